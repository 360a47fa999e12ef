package scripting

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/dop251/goja"
	"github.com/fxamacker/cbor/v2"

	"github.com/odin-db/odin/objects"
	"github.com/odin-db/odin/persist"
	"github.com/odin-db/odin/scripting/codec"
)

// Queries. odin.find plans the query here, where the condition values are
// (objects.Plan: which index, which key range), and sends the plan as a
// KindFind message; the host runs it against the index (in a cluster, on
// every node holding objects of the class, merging the answers by key) and
// replies like a callee. The reply is an ordinary logged event, so a replay
// sees the same answer, and a find pending across a restart is sent again.
//
// The reply's payload, in codec bytes: an array of Refs, or with select an
// array of [Ref, [field, ArrayBuffer, field, ArrayBuffer, ...]] holding
// each field's stored encoding, which this worker decodes into the state.

// Uniques keeps unique indexes unique across the VMs (and, in a cluster,
// the nodes) that commit objects of a class. Claim is asked at the end of a
// turn that gives an object new values in a unique index; the claim lasts
// until the commit carrying them is durable (Release), after which the
// stored index holds the values.
type Uniques interface {
	// Claim reserves tuple in the unique index ix of class for the object
	// id, or returns the id of the object that holds it (claimed or
	// stored) and claims nothing. A nil tuple claims nothing and never
	// fails: it says that the commit gives the object no value in ix (null,
	// undefined or absent), so that once it is through, the value the
	// object had is free even if an earlier commit carrying it still holds
	// a claim. Every successful Claim, nil or not, is Released once its
	// commit is over.
	Claim(class string, ix objects.Index, tuple []byte, id string) (holder string, err error)
	// old is the value the object had before (nil: none), and committed
	// says whether the commit is durable: a cluster frees old then (or, if
	// the commit failed, the value claimed).
	Release(class string, ix objects.Index, tuple, old []byte, id string, committed bool)
}

// uniqueClaim is one value claimed by a turn, released after its commit.
type uniqueClaim struct {
	ix    objects.Index
	tuple []byte // the value claimed (nil: the object gives its value up)
	old   []byte // the value the object had before the turn (nil: none)
}

// queryDec decodes queries; immutable, so shared.
var queryDec = func() cbor.DecMode {
	dm, err := cbor.DecOptions{MaxNestedLevels: 4, MaxArrayElements: 64, MaxMapPairs: 64,
		UTF8: cbor.UTF8DecodeInvalid}.DecMode() // class names and ids may hold lone surrogates
	if err != nil {
		panic(err)
	}
	return dm
}()

// EncodeQuery and DecodeQuery carry a planned query in a KindFind message.
func EncodeQuery(q *objects.Query) ([]byte, error) { return cbor.Marshal(q) }

// DecodeQuery never panics on arbitrary input (FuzzDecodeQuery).
func DecodeQuery(b []byte) (*objects.Query, error) {
	var q objects.Query
	if err := queryDec.Unmarshal(b, &q); err != nil {
		return nil, fmt.Errorf("malformed query: %w", err)
	}
	if q.Class == "" || q.Limit < 0 || q.Limit > objects.MaxFindLimit || q.Fields < 0 || q.Fields > 64 {
		return nil, fmt.Errorf("malformed query: class %q, limit %d, %d fields", q.Class, q.Limit, q.Fields)
	}
	return &q, nil
}

// find implements odin.find(Class, conditions, options).
func (x *api) find(c goja.FunctionCall) goja.Value {
	class := className(c.Argument(0))
	def := x.w.cfg.Classes.Latest(class)
	if def == nil {
		x.throw("NotDefinedError", "odin.find: class %s is not defined", class)
	}
	conds := x.findConds(c.Argument(1))
	q := &objects.Query{Limit: objects.MaxFindLimit, Strict: true}
	order := ""
	if o, ok := c.Argument(2).(*goja.Object); ok {
		for _, k := range o.Keys() {
			v := o.Get(k)
			if goja.IsUndefined(v) || goja.IsNull(v) {
				// {limit: opts.limit} with no limit given: as if absent.
				continue
			}
			switch k {
			case "order":
				order = v.String()
			case "limit":
				n := v.ToFloat()
				if !(n >= 1 && n <= objects.MaxFindLimit) || n != float64(int(n)) {
					x.throw("RangeError", "odin.find: limit must be an integer between 1 and %d", objects.MaxFindLimit)
				}
				q.Limit, q.Strict = int(n), false
			case "after":
				info := x.refInfoOfObjValue(v)
				if o, ok := v.(*goja.Object); ok && info == nil {
					info = x.refInfoOfObjValue(o.Get("ref")) // a row of a find with select: {ref, state}
				}
				switch {
				case info == nil:
					x.throw("TypeError", "odin.find: after must be a Ref (the last one of the previous page, or the last row's ref with select)")
				case info.ref.Class != class:
					x.throw("TypeError", "odin.find: after is %s, not an object of class %s", info.ref, class)
				}
				q.After = info.ref.ID
			case "select":
				q.Select = v.ToBoolean()
			case "partial":
				q.Partial = v.ToBoolean()
			default:
				x.throw("TypeError", "odin.find: unknown option %q (options: order, limit, after, select, partial)", k)
			}
		}
	}
	plan, err := objects.Plan(class, def.Indexes, conds, order)
	if err != nil {
		x.throw("TypeError", "odin.find: %v", err)
	}
	plan.Limit, plan.Strict, plan.After, plan.Select, plan.Partial = q.Limit, q.Strict, q.After, q.Select, q.Partial
	return x.sendQuery(plan, "odin.find")
}

// className accepts a class or its name.
func className(v goja.Value) string {
	if o, ok := v.(*goja.Object); ok {
		if _, ok := goja.AssertConstructor(o); ok {
			return o.Get("name").String()
		}
	}
	return v.String()
}

// findConds turns {field: value, field: {gte: a, lt: b}, field: {prefix: s}}
// into conditions with their key components.
func (x *api) findConds(v goja.Value) []objects.Cond {
	if v == nil || goja.IsUndefined(v) || goja.IsNull(v) {
		return nil
	}
	o, ok := v.(*goja.Object)
	if !ok || o.ClassName() != "Object" {
		x.throw("TypeError", "odin.find: conditions must be an object such as {owner: \"bob\"}")
	}
	var conds []objects.Cond
	for _, field := range o.Keys() {
		fv := o.Get(field)
		if co, ok := fv.(*goja.Object); ok && co.ClassName() == "Object" && x.refInfoOfObj(co) == nil {
			keys := co.Keys()
			if len(keys) == 0 {
				x.throw("TypeError", "odin.find: field %s: empty condition {} (use gt, gte, lt, lte, prefix or a value)", field)
			}
			for _, k := range keys {
				op := objects.OpNamed(k)
				if op == 0 {
					x.throw("TypeError", "odin.find: field %s: unknown condition %q (use gt, gte, lt, lte, prefix, eq)", field, k)
				}
				cv := co.Get(k)
				if op == objects.OpPrefix {
					s, ok := cv.Export().(string)
					if !ok {
						x.throw("TypeError", "odin.find: field %s: prefix must be a string", field)
					}
					conds = append(conds, objects.Cond{Field: field, Op: op, Key: objects.AppendStringPrefix(nil, s, false)})
					continue
				}
				conds = append(conds, objects.Cond{Field: field, Op: op, Key: x.condKey(field, cv)})
			}
			continue
		}
		conds = append(conds, objects.Cond{Field: field, Op: objects.OpEq, Key: x.condKey(field, fv)})
	}
	return conds
}

// condKey encodes a condition value the way stored fields are encoded, so
// that it gives the same key component.
func (x *api) condKey(field string, v goja.Value) []byte {
	enc, err := x.w.enc.Encode(nil, v)
	if err != nil {
		panic(x.w.api.cloneError(err, "odin.find condition "+field))
	}
	k, ok := codec.KeyOf(nil, enc)
	if !ok || len(k) == 0 || k[0] == objects.UndefinedTag {
		kind := x.w.kindOf(v)
		what := kind.String()
		switch kind {
		case objects.KindNumber:
			what = "NaN" // the only number that is not indexable
		case objects.KindDate:
			what = "an invalid Date"
		case objects.KindBigInt:
			what = "a bigint this large"
		}
		x.throw("TypeError", "odin.find: field %s: %s cannot be looked up in an index (use a string, number, boolean, null, bigint or Date)",
			field, what)
	}
	return k
}

// findResult builds the value of a find's reply.
//
// With partial the payload is [rows, missing nodes]: the result is the rows
// with a property missing naming the nodes that did not answer.
func (w *Worker) findResult(payload []byte, sel, partial bool) (goja.Value, error) {
	if partial {
		v, err := w.dec.Decode(payload)
		if err != nil {
			return nil, err
		}
		o, ok := v.(*goja.Object)
		if !ok || o.ClassName() != "Array" || o.Get("length").ToInteger() != 2 {
			return nil, fmt.Errorf("malformed find reply")
		}
		rows, missing := o.Get("0"), o.Get("1")
		if sel {
			b, err := w.enc.Encode(nil, rows)
			if err != nil {
				return nil, err
			}
			if rows, err = w.findResult(b, true, false); err != nil {
				return nil, err
			}
		}
		ro, ok := rows.(*goja.Object)
		if !ok {
			return nil, fmt.Errorf("malformed find reply")
		}
		_ = ro.Set("missing", missing)
		return ro, nil
	}
	if !sel {
		return w.dec.Decode(payload)
	}
	v, err := codec.DecodeGo(payload)
	if err != nil {
		return nil, err
	}
	rows, _ := v.([]any)
	out := make([]any, 0, len(rows))
	for _, r := range rows {
		row, _ := r.([]any)
		if len(row) != 2 {
			return nil, fmt.Errorf("malformed find reply")
		}
		ref, ok := row[0].(objects.Ref)
		fields, ok2 := row[1].([]any)
		if !ok || !ok2 || len(fields)%2 != 0 {
			return nil, fmt.Errorf("malformed find reply")
		}
		state := w.rt.NewObject()
		for i := 0; i < len(fields); i += 2 {
			name, _ := fields[i].(string)
			raw, _ := fields[i+1].(codec.Bytes)
			fv, err := w.dec.Decode(raw)
			if err != nil {
				return nil, err
			}
			_ = state.Set(name, fv)
		}
		e := w.rt.NewObject()
		_ = e.Set("ref", w.api.makeRef(&refInfo{ref: ref}))
		_ = e.Set("state", state)
		out = append(out, e)
	}
	return w.rt.NewArray(out...), nil
}

// claimUnique claims the values a turn gives the object in its class's
// unique indexes. On a conflict it releases what it claimed and returns the
// ConstraintError that fails the turn.
func (w *Worker) claimUnique(a *activation, puts []persist.FieldPut, deleted []string) ([]uniqueClaim, goja.Value) {
	def := w.cfg.Classes.Latest(a.ref.Class)
	if def == nil || w.cfg.Uniques == nil || w.replaying {
		return nil, nil
	}
	var claims []uniqueClaim
	fail := func(v goja.Value) ([]uniqueClaim, goja.Value) {
		w.releaseUnique(a.ref, claims, false)
		return nil, v
	}
	for _, ix := range def.Indexes {
		if !ix.Unique || !touchesFields(ix, puts, deleted, !a.exists) {
			continue
		}
		after := uniqueTuple(ix, func(f string) []byte {
			for _, p := range puts {
				if p.Name == f {
					return p.Value
				}
			}
			if containsString(deleted, f) {
				return nil
			}
			return a.committed[f]
		})
		before := []byte(nil)
		if a.exists {
			before = uniqueTuple(ix, func(f string) []byte { return a.committed[f] })
		}
		if after == nil {
			if before != nil {
				// The object gives its value up: say so (see Uniques).
				if _, err := w.cfg.Uniques.Claim(a.ref.Class, ix, nil, a.ref.ID); err != nil {
					return fail(w.api.unavailable("checking " + ix.String() + ": " + err.Error()))
				}
				claims = append(claims, uniqueClaim{ix: ix, old: before})
			}
			continue
		}
		if bytes.Equal(after, before) {
			continue
		}
		holder, err := w.cfg.Uniques.Claim(a.ref.Class, ix, after, a.ref.ID)
		if err != nil {
			return fail(w.api.unavailable("checking " + ix.String() + ": " + err.Error()))
		}
		if holder != "" {
			return fail(w.api.newError("ConstraintError",
				fmt.Sprintf("%s: %s %s is already taken by %s/%s (%s)", a.ref, strings.Join(ix.Fields, ", "), describeTuple(after), a.ref.Class, holder, ix),
				map[string]any{"field": strings.Join(ix.Fields, ","), "rule": "unique"}))
		}
		claims = append(claims, uniqueClaim{ix: ix, tuple: after, old: before})
	}
	return claims, nil
}

// releaseUnique releases a turn's claims once its commit is over
// (committed: durable; otherwise it failed or the turn did).
func (w *Worker) releaseUnique(ref objects.Ref, claims []uniqueClaim, committed bool) {
	for _, c := range claims {
		w.cfg.Uniques.Release(ref.Class, c.ix, c.tuple, c.old, ref.ID, committed)
	}
}

func touchesFields(ix objects.Index, puts []persist.FieldPut, deleted []string, all bool) bool {
	if all {
		return true
	}
	for _, p := range puts {
		if ix.Covers(p.Name) {
			return true
		}
	}
	for _, f := range deleted {
		if ix.Covers(f) {
			return true
		}
	}
	return false
}

// uniqueTuple is the key tuple of ix's fields, or nil when a field is
// absent, undefined, null or not indexable (such values are not unique).
func uniqueTuple(ix objects.Index, get func(string) []byte) []byte {
	var t []byte
	for _, f := range ix.Fields {
		v := get(f)
		if v == nil {
			return nil
		}
		start := len(t)
		var ok bool
		if t, ok = codec.KeyOf(t, v); !ok || t[start] == objects.UndefinedTag || t[start] == objects.NullTag {
			return nil
		}
	}
	return t
}

// describeTuple renders a tuple's values for a message.
func describeTuple(t []byte) string {
	var parts []string
	for len(t) > 0 {
		v, n, err := objects.DecodeComponent(t)
		if err != nil {
			break
		}
		switch x := v.(type) {
		case string:
			parts = append(parts, fmt.Sprintf("%q", x))
		case objects.DateMillis:
			parts = append(parts, fmt.Sprintf("date %v", float64(x)))
		default:
			parts = append(parts, fmt.Sprint(x))
		}
		t = t[n:]
	}
	return strings.Join(parts, ", ")
}
