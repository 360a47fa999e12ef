package objects

import (
	"bytes"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func ix(fields ...string) Index  { return Index{Fields: fields} }
func uix(fields ...string) Index { return Index{Fields: fields, Unique: true} }

func eqc(f string, v kval) Cond { return Cond{Field: f, Op: OpEq, Key: v.key()} }
func opc(f string, op Op, v kval) Cond {
	return Cond{Field: f, Op: op, Key: v.key()}
}
func prefc(f, p string) Cond {
	return Cond{Field: f, Op: OpPrefix, Key: AppendStringPrefix(nil, p, false)}
}

func mustPlan(t *testing.T, indexes []Index, conds []Cond, order string) *Query {
	t.Helper()
	q, err := Plan("User", indexes, conds, order)
	if err != nil {
		t.Fatalf("Plan(%v, %v): %v", conds, order, err)
	}
	return q
}

func TestOpNames(t *testing.T) {
	for _, op := range []Op{OpEq, OpGt, OpGte, OpLt, OpLte, OpPrefix} {
		if OpNamed(op.String()) != op {
			t.Errorf("OpNamed(%q) = %v", op.String(), OpNamed(op.String()))
		}
	}
	for _, name := range []string{"", "ne", "EQ", "op(0)"} {
		if OpNamed(name) != 0 {
			t.Errorf("OpNamed(%q) = %v", name, OpNamed(name))
		}
	}
	if s := Op(0).String(); s != "op(0)" {
		t.Errorf("Op(0) = %s", s)
	}
	if s := Op(42).String(); s != "op(42)" {
		t.Errorf("Op(42) = %s", s)
	}
}

func TestPlanChoosesNarrowestIndex(t *testing.T) {
	indexes := []Index{ix("a", "b", "c"), ix("a", "b"), ix("a"), ix("b"), uix("c", "a")}
	for _, c := range []struct {
		conds []Cond
		order string
		want  string
	}{
		{[]Cond{eqc("a", kNum(1))}, "", ix("a").Name()},
		{[]Cond{eqc("a", kNum(1)), eqc("b", kNum(2))}, "", ix("a", "b").Name()},
		{[]Cond{eqc("b", kNum(2)), eqc("a", kNum(1))}, "", ix("a", "b").Name()},
		{[]Cond{eqc("a", kNum(1)), eqc("b", kNum(2)), eqc("c", kNum(3))}, "", ix("a", "b", "c").Name()},
		{[]Cond{eqc("a", kNum(1)), opc("b", OpGt, kNum(2))}, "", ix("a", "b").Name()},
		{[]Cond{eqc("a", kNum(1)), opc("b", OpGt, kNum(2))}, "-b", ix("a", "b").Name()},
		{[]Cond{eqc("a", kNum(1))}, "b", ix("a", "b").Name()},
		{[]Cond{eqc("a", kNum(1))}, "a", ix("a").Name()},
		{[]Cond{eqc("a", kNum(1)), eqc("b", kNum(2))}, "c", ix("a", "b", "c").Name()},
		{[]Cond{eqc("c", kNum(1)), eqc("a", kNum(2))}, "", uix("c", "a").Name()},
		{[]Cond{eqc("c", kNum(1))}, "a", uix("c", "a").Name()},
		{[]Cond{opc("b", OpLt, kNum(0))}, "", ix("b").Name()},
		{[]Cond{prefc("b", "x")}, "", ix("b").Name()},
		{[]Cond{eqc("a", kNum(1)), prefc("b", "x")}, "", ix("a", "b").Name()},
		{nil, "a", ix("a").Name()},
		{nil, "-b", ix("b").Name()},
		{nil, "", ""},
		{nil, "-", ""},
	} {
		q := mustPlan(t, indexes, c.conds, c.order)
		if q.Index != c.want {
			t.Errorf("Plan(%v, %q) chose %q, want %q", c.conds, c.order, q.Index, c.want)
		}
		if q.Class != "User" || q.Desc != strings.HasPrefix(c.order, "-") {
			t.Errorf("Plan(%v, %q) = %+v", c.conds, c.order, q)
		}
		if c.want != "" {
			for _, x := range indexes {
				if x.Name() == c.want && q.Fields != len(x.Fields) {
					t.Errorf("Plan(%v, %q): Fields %d for %s", c.conds, c.order, q.Fields, c.want)
				}
			}
		}
	}
	// Equal widths: the first declared wins.
	q := mustPlan(t, []Index{ix("a"), uix("a")}, []Cond{eqc("a", kStr("x"))}, "")
	if q.Index != ix("a").Name() {
		t.Errorf("tie: chose %s", q.Index)
	}
}

func TestPlanBounds(t *testing.T) {
	indexes := []Index{ix("a", "b")}
	p := kStr("p").key()
	q := mustPlan(t, indexes, []Cond{eqc("a", kStr("p"))}, "")
	if !bytes.Equal(q.Lo, p) || !bytes.Equal(q.Hi, PrefixEnd(p)) {
		t.Errorf("eq: [%x, %x)", q.Lo, q.Hi)
	}
	q = mustPlan(t, indexes, []Cond{eqc("a", kStr("p")), eqc("b", kNum(1))}, "")
	if want := keysOf(kStr("p"), kNum(1)); !bytes.Equal(q.Lo, want) || !bytes.Equal(q.Hi, PrefixEnd(want)) {
		t.Errorf("eq eq: [%x, %x)", q.Lo, q.Hi)
	}
	q = mustPlan(t, indexes, nil, "a")
	if q.Lo != nil || q.Hi != nil {
		t.Errorf("order only: [%x, %x)", q.Lo, q.Hi)
	}
	q = mustPlan(t, indexes, []Cond{eqc("a", kStr("p")), prefc("b", "")}, "")
	if want := append(bytes.Clone(p), StringTag); !bytes.Equal(q.Lo, want) || !bytes.Equal(q.Hi, PrefixEnd(want)) {
		t.Errorf("empty prefix: [%x, %x)", q.Lo, q.Hi)
	}
	q = mustPlan(t, indexes, []Cond{opc("a", OpGte, kNum(1))}, "")
	if !bytes.Equal(q.Lo, kNum(1).key()) || !bytes.Equal(q.Hi, []byte{tagNumber + 1}) {
		t.Errorf("gte: [%x, %x)", q.Lo, q.Hi)
	}
	q = mustPlan(t, indexes, []Cond{opc("a", OpLt, kNum(1))}, "")
	if !bytes.Equal(q.Lo, []byte{tagNumber}) || !bytes.Equal(q.Hi, kNum(1).key()) {
		t.Errorf("lt: [%x, %x)", q.Lo, q.Hi)
	}
}

// scanKeys returns the ids of the entries of keys (sorted) inside q's range,
// in q's direction.
func scanKeys(q *Query, keys [][]byte, n int) []string {
	var ids []string
	for _, k := range keys {
		if q.In(k) {
			_, id, err := SplitKey(k, n)
			if err != nil {
				panic(err)
			}
			ids = append(ids, id)
		}
	}
	if q.Desc {
		slices.Reverse(ids)
	}
	return ids
}

// sameType reports whether a range bound of type b applies to a value v.
func sameType(v, b kval) bool { return v.kind == b.kind }

func matches(v kval, c Cond, bound kval) bool {
	switch c.Op {
	case OpEq:
		return cmpKval(v, bound) == 0
	case OpGt:
		return sameType(v, bound) && cmpKval(v, bound) > 0
	case OpGte:
		return sameType(v, bound) && cmpKval(v, bound) >= 0
	case OpLt:
		return sameType(v, bound) && cmpKval(v, bound) < 0
	case OpLte:
		return sameType(v, bound) && cmpKval(v, bound) <= 0
	case OpPrefix:
		return v.kind == KindString && strings.HasPrefix(v.str, bound.str)
	}
	panic("op")
}

func TestPlanRangesByScanning(t *testing.T) {
	vals := []kval{kUndef, kNull, kBool(false), kBool(true), kNum(math.Inf(-1)), kNum(-2), kNum(0), kNum(0.5),
		kNum(1), kNum(2), kNum(math.Inf(1)), kBigI(-5), kBigI(0), kBigI(5), kDate(-1), kDate(0), kDate(10),
		kStr(""), kStr("a"), kStr("a\x00"), kStr("a\x00\x00"), kStr("a\x01"), kStr("ab"), kStr("b"), kStr("\xff")}
	// One object per value (and a few duplicates, with other ids).
	type obj struct {
		id string
		v  kval
	}
	var objs []obj
	for i, v := range vals {
		objs = append(objs, obj{string(rune('A' + i)), v})
		if i%3 == 0 {
			objs = append(objs, obj{string(rune('a' + i)), v})
		}
	}
	var keys [][]byte
	for _, o := range objs {
		keys = append(keys, append(o.v.key(), o.id...))
	}
	slices.SortFunc(keys, bytes.Compare)
	want := func(conds []Cond, bounds []kval, desc bool) []string {
		var sorted []obj
		for _, o := range objs {
			ok := true
			for i, c := range conds {
				ok = ok && matches(o.v, c, bounds[i])
			}
			if ok {
				sorted = append(sorted, o)
			}
		}
		slices.SortFunc(sorted, func(a, b obj) int {
			if c := cmpKval(a.v, b.v); c != 0 {
				return c
			}
			return strings.Compare(a.id, b.id)
		})
		var ids []string
		for _, o := range sorted {
			ids = append(ids, o.id)
		}
		if desc {
			slices.Reverse(ids)
		}
		return ids
	}
	indexes := []Index{ix("v")}
	checked := 0
	for _, op := range []Op{OpEq, OpGt, OpGte, OpLt, OpLte} {
		for _, b := range vals {
			if b.kind == KindUndefined {
				continue
			}
			for _, order := range []string{"", "v", "-v"} {
				conds := []Cond{opc("v", op, b)}
				q := mustPlan(t, indexes, conds, order)
				got, exp := scanKeys(q, keys, 1), want(conds, []kval{b}, q.Desc)
				if !slices.Equal(got, exp) {
					t.Errorf("v %s %v order %q: got %q, want %q (range [%x, %x))", op, b, order, got, exp, q.Lo, q.Hi)
				}
				checked++
			}
		}
	}
	// Two-sided ranges, with every combination of bounds of one type.
	for _, lop := range []Op{OpGt, OpGte} {
		for _, hop := range []Op{OpLt, OpLte} {
			for _, lb := range vals {
				for _, hb := range vals {
					if lb.kind == KindUndefined || hb.kind == KindUndefined {
						continue
					}
					conds := []Cond{opc("v", hop, hb), opc("v", lop, lb)}
					q, err := Plan("User", indexes, conds, "")
					sameKind := lb.kind == hb.kind
					if !sameKind {
						if err == nil || !strings.Contains(err.Error(), "the bounds of a range must be of one type") {
							t.Errorf("bounds %v and %v: %v", lb, hb, err)
						}
						continue
					}
					if err != nil {
						t.Fatalf("bounds %v and %v: %v", lb, hb, err)
					}
					got, exp := scanKeys(q, keys, 1), want(conds, []kval{hb, lb}, false)
					if !slices.Equal(got, exp) {
						t.Errorf("v %s %v and %s %v: got %q, want %q", lop, lb, hop, hb, got, exp)
					}
					checked++
				}
			}
		}
	}
	for _, p := range []string{"", "a", "a\x00", "a\x00\x00", "a\x01", "ab", "b", "c", "\xff", "\xff\xff"} {
		conds := []Cond{prefc("v", p)}
		q := mustPlan(t, indexes, conds, "-v")
		got, exp := scanKeys(q, keys, 1), want(conds, []kval{kStr(p)}, true)
		if !slices.Equal(got, exp) {
			t.Errorf("prefix %q: got %q, want %q", p, got, exp)
		}
		checked++
	}
	if checked < 500 {
		t.Errorf("only %d cases", checked)
	}
}

// TestPlanRandomCompound plans random queries over random objects with a
// compound index and checks each scan against a brute-force filter.
func TestPlanRandomCompound(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	pool := []kval{kNull, kBool(false), kBool(true), kNum(-1), kNum(0), kNum(1), kNum(2), kBigI(3), kDate(4),
		kStr(""), kStr("a"), kStr("a\x00"), kStr("ab"), kStr("b")}
	fields := []string{"a", "b", "c"}
	indexes := []Index{ix("a", "b", "c"), ix("b"), ix("c", "a"), ix("a", "b")}
	type obj struct {
		id   string
		vals map[string]kval
	}
	var objs []obj
	for i := range 300 {
		o := obj{id: string(rune(0x100 + i)), vals: map[string]kval{}}
		for _, f := range fields {
			o.vals[f] = pool[r.IntN(len(pool))]
		}
		objs = append(objs, o)
	}
	keysOfIndex := func(x Index) [][]byte {
		var keys [][]byte
		for _, o := range objs {
			var k []byte
			for _, f := range x.Fields {
				k = append(k, o.vals[f].key()...)
			}
			keys = append(keys, append(k, o.id...))
		}
		slices.SortFunc(keys, bytes.Compare)
		return keys
	}
	planned, refused, found := 0, 0, 0
	for range 3000 {
		var conds []Cond
		var bounds []kval
		for _, f := range fields {
			switch r.IntN(6) {
			case 0, 1:
				v := pool[r.IntN(len(pool))]
				conds, bounds = append(conds, eqc(f, v)), append(bounds, v)
			case 2:
				v := pool[r.IntN(len(pool))]
				op := []Op{OpGt, OpGte, OpLt, OpLte}[r.IntN(4)]
				conds, bounds = append(conds, opc(f, op, v)), append(bounds, v)
				if r.IntN(2) == 0 {
					w := v
					for w.kind != v.kind || w == v && r.IntN(2) == 0 {
						w = pool[r.IntN(len(pool))]
					}
					op2 := []Op{OpLt, OpLte}[r.IntN(2)]
					if op >= OpLt {
						op2 = []Op{OpGt, OpGte}[r.IntN(2)]
					}
					conds, bounds = append(conds, opc(f, op2, w)), append(bounds, w)
				}
			case 3:
				s := []string{"", "a", "a\x00", "b", "z"}[r.IntN(5)]
				conds, bounds = append(conds, prefc(f, s)), append(bounds, kStr(s))
			}
		}
		order := ""
		if r.IntN(2) == 0 {
			order = fields[r.IntN(len(fields))]
			if r.IntN(2) == 0 {
				order = "-" + order
			}
		}
		q, err := Plan("User", indexes, conds, order)
		if err != nil {
			refused++
			if !strings.Contains(err.Error(), "range or prefix conditions on two fields") &&
				!strings.Contains(err.Error(), "no index of User serves") {
				t.Fatalf("Plan(%v, %q): unexpected refusal %v", conds, order, err)
			}
			continue
		}
		planned++
		if q.Index == "" {
			if len(conds) != 0 || strings.TrimPrefix(order, "-") != "" {
				t.Fatalf("id scan for %v, %q", conds, order)
			}
			continue
		}
		var x Index
		for _, c := range indexes {
			if c.Name() == q.Index {
				x = c
			}
		}
		got := scanKeys(q, keysOfIndex(x), len(x.Fields))
		found += len(got)
		var exp []string
		var expObjs []obj
		for _, o := range objs {
			ok := true
			for i, c := range conds {
				ok = ok && matches(o.vals[c.Field], c, bounds[i])
			}
			if ok {
				expObjs = append(expObjs, o)
			}
		}
		// The result is in index order: sort by the index's fields, then id.
		slices.SortFunc(expObjs, func(a, b obj) int {
			for _, f := range x.Fields {
				if c := cmpKval(a.vals[f], b.vals[f]); c != 0 {
					return c
				}
			}
			return strings.Compare(a.id, b.id)
		})
		for _, o := range expObjs {
			exp = append(exp, o.id)
		}
		if q.Desc {
			slices.Reverse(exp)
		}
		if !slices.Equal(got, exp) {
			t.Fatalf("Plan(%v, %q) with %s: got %d ids, want %d", conds, order, x, len(got), len(exp))
		}
		// The order asked for holds.
		if f := strings.TrimPrefix(order, "-"); f != "" {
			byID := map[string]obj{}
			for _, o := range objs {
				byID[o.id] = o
			}
			for i := 1; i < len(got); i++ {
				c := cmpKval(byID[got[i-1]].vals[f], byID[got[i]].vals[f])
				if (!q.Desc && c > 0) || (q.Desc && c < 0) {
					t.Fatalf("Plan(%v, %q): result not ordered by %s", conds, order, order)
				}
			}
		}
	}
	t.Logf("planned %d, refused %d, %d ids found", planned, refused, found)
	if planned < 300 || refused < 300 || found < 10000 {
		t.Errorf("planned %d, refused %d: the generator is off", planned, refused)
	}
}

func TestPlanRefusals(t *testing.T) {
	indexes := []Index{ix("owner"), ix("city", "age"), uix("email")}
	for _, c := range []struct {
		conds []Cond
		order string
		want  string
	}{
		{[]Cond{eqc("name", kStr("x"))}, "",
			"no index of User serves a query on {name}; the indexes of User are: owner; [city, age]; unique email"},
		{[]Cond{eqc("owner", kStr("x")), eqc("city", kStr("y"))}, "",
			"no index of User serves a query on {city, owner}; the indexes of User are"},
		{[]Cond{eqc("city", kStr("x")), opc("age", OpGt, kNum(1))}, "owner",
			"no index of User serves a query on {city, age} ordered by owner"},
		{nil, "age", "no index of User serves a query ordered by age"},
		{[]Cond{opc("age", OpGt, kNum(1))}, "", "no index of User serves a query on {age}"},
		{[]Cond{opc("city", OpGt, kStr("a"))}, "-age", "no index of User serves a query on {city} ordered by age"},
		{[]Cond{opc("city", OpGt, kStr("a")), opc("age", OpLt, kNum(3))}, "",
			"range or prefix conditions on two fields (city and age): an index scan can have a range on one field only"},
		{[]Cond{prefc("city", "a"), prefc("owner", "b")}, "", "range or prefix conditions on two fields (city and owner)"},
		{[]Cond{prefc("city", "a"), opc("owner", OpLte, kStr("b"))}, "", "range or prefix conditions on two fields"},
		{[]Cond{eqc("owner", kStr("a")), eqc("owner", kStr("b"))}, "", "field owner has two equality conditions"},
		{[]Cond{opc("age", OpGt, kNum(1)), opc("age", OpGte, kNum(2))}, "", "field age has two lower bounds (gt and gte)"},
		{[]Cond{opc("age", OpLt, kNum(1)), opc("age", OpLte, kNum(2))}, "", "field age has two upper bounds (lt and lte)"},
		{[]Cond{prefc("city", "a"), prefc("city", "b")}, "", "field city has two prefix conditions"},
		{[]Cond{prefc("city", "a"), opc("city", OpLt, kStr("b"))}, "", "field city has a prefix and a range condition"},
		{[]Cond{eqc("age", kNum(1)), opc("age", OpLt, kNum(2))}, "", "field age has an equality and a range condition"},
		{[]Cond{opc("age", OpGt, kNum(1)), opc("age", OpLt, kStr("2"))}, "", "field age: the bounds of a range must be of one type"},
		{[]Cond{opc("age", OpGt, kBigI(1)), opc("age", OpLt, kNum(2))}, "", "the bounds of a range must be of one type"},
		{[]Cond{opc("age", OpGt, kDate(1)), opc("age", OpLt, kNum(2))}, "", "the bounds of a range must be of one type"},
		{[]Cond{opc("age", OpGt, kNull), opc("age", OpLt, kBool(true))}, "", "the bounds of a range must be of one type"},
		{[]Cond{{Field: "age", Op: 0, Key: kNum(1).key()}}, "", "unknown condition op(0) on field age"},
		{[]Cond{{Field: "age", Op: 99, Key: kNum(1).key()}}, "", "unknown condition op(99) on field age"},
	} {
		q, err := Plan("User", indexes, c.conds, c.order)
		if err == nil {
			t.Errorf("Plan(%v, %q) = %+v, no error", c.conds, c.order, q)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("Plan(%v, %q): %q, want %q", c.conds, c.order, err, c.want)
		}
	}
	_, err := Plan("Thing", nil, []Cond{eqc("x", kNum(1))}, "")
	if err == nil || err.Error() != "no index of Thing serves a query on {x}: Thing has no indexes (declare them with static indexes = [...])" {
		t.Errorf("no indexes: %v", err)
	}
	// Booleans are one type for ranges.
	if _, err := Plan("User", []Index{ix("b")}, []Cond{opc("b", OpGte, kBool(false)), opc("b", OpLt, kBool(true))}, ""); err != nil {
		t.Errorf("false <= b < true: %v", err)
	}
}

func TestPlanRefusesMalformedKeys(t *testing.T) {
	indexes := []Index{ix("a", "b")}
	for _, c := range []Cond{
		{Field: "a", Op: OpEq},
		{Field: "a", Op: OpEq, Key: []byte{0x99}},
		{Field: "a", Op: OpGt, Key: []byte{tagNumber, 1}},
		{Field: "a", Op: OpLt, Key: append(kNum(1).key(), 0)},
		{Field: "a", Op: OpEq, Key: keysOf(kNum(1), kNum(2))},
	} {
		if q, err := Plan("User", indexes, []Cond{c}, ""); err == nil {
			t.Errorf("Plan with key %x for %s = %+v, no error", c.Key, c.Op, q)
		}
	}
}

func TestQueryIn(t *testing.T) {
	q := &Query{Lo: []byte{2}, Hi: []byte{4}}
	for k, want := range map[string]bool{"\x01": false, "\x02": true, "\x02\x00": true, "\x03\xff": true, "\x04": false, "\x05": false} {
		if q.In([]byte(k)) != want {
			t.Errorf("[2,4) In %x = %v", k, !want)
		}
	}
	q = &Query{Lo: []byte{2}}
	if !q.In([]byte{0xff, 0xff}) || q.In([]byte{1}) {
		t.Error("open-ended range is wrong")
	}
}
