package objects

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
)

// Op is a condition's comparison.
type Op uint8

// The comparisons odin.find accepts.
const (
	OpEq Op = iota + 1
	OpGt
	OpGte
	OpLt
	OpLte
	OpPrefix
)

var opNames = [...]string{OpEq: "eq", OpGt: "gt", OpGte: "gte", OpLt: "lt", OpLte: "lte", OpPrefix: "prefix"}

func (o Op) String() string {
	if int(o) < len(opNames) && opNames[o] != "" {
		return opNames[o]
	}
	return fmt.Sprintf("op(%d)", o)
}

// OpNamed returns the Op of a condition key ("gte", ...), or 0.
func OpNamed(name string) Op {
	for i, n := range opNames {
		if n == name && n != "" {
			return Op(i)
		}
	}
	return 0
}

// Cond is one condition of a query: Field Op value. Key is the value's key
// component (AppendKey), or for OpPrefix the string's escaped bytes after
// the string tag (AppendStringPrefix without the terminator).
type Cond struct {
	Field string
	Op    Op
	Key   []byte
}

// MaxFindLimit bounds the objects one find returns.
const MaxFindLimit = 10000

// Query is a planned find: a scan of one index of Class over the keys in
// [Lo, Hi) (nil Hi: to the end), in key order or reversed, strictly after
// the entry of After (an object id whose entry is looked up in the index),
// returning at most Limit objects. Index "" scans the object ids instead.
type Query struct {
	Class  string `cbor:"1,keyasint,omitempty"`
	Index  string `cbor:"2,keyasint,omitempty"` // Index.Name(), or "" for id order
	Fields int    `cbor:"3,keyasint,omitempty"` // components per key
	Lo     []byte `cbor:"4,keyasint,omitempty"`
	Hi     []byte `cbor:"5,keyasint,omitempty"`
	Desc   bool   `cbor:"6,keyasint,omitempty"`
	After  string `cbor:"7,keyasint,omitempty"`
	// AfterKey, when set, is the full key (tuple and id) to resume after:
	// in a cluster the node holding the After object computes it, and the
	// other nodes scan from it.
	AfterKey []byte `cbor:"12,keyasint,omitempty"`
	Limit    int    `cbor:"8,keyasint,omitempty"`
	Select   bool   `cbor:"9,keyasint,omitempty"`
	// Strict: fail when more than Limit objects match (no limit was given).
	Strict bool `cbor:"10,keyasint,omitempty"`
	// Partial: in a cluster, answer with what the reachable nodes hold.
	Partial bool `cbor:"11,keyasint,omitempty"`
}

// In reports whether key is inside the query's bounds.
func (q *Query) In(key []byte) bool {
	return bytes.Compare(key, q.Lo) >= 0 && (q.Hi == nil || bytes.Compare(key, q.Hi) < 0)
}

// Plan picks the index that answers conditions ordered by order (a field
// name, "" for the index's own order) and computes the scan bounds. Each
// field may have one equality, or a range (a lower and/or an upper bound)
// or a prefix; at most one field may have a range or a prefix. An index
// serves the query when its leading fields are exactly the equality fields,
// followed by the range field if any; an order must be the field after the
// equality fields (or one of them). A query no index serves is an error
// naming the indexes that exist.
func Plan(class string, indexes []Index, conds []Cond, order string) (*Query, error) {
	eq := map[string][]byte{}
	var rng string
	var lo, hi *Cond
	var prefix *Cond
	for i := range conds {
		c := &conds[i]
		if err := checkCondKey(c); err != nil {
			return nil, err
		}
		switch c.Op {
		case OpEq:
			if _, dup := eq[c.Field]; dup {
				return nil, fmt.Errorf("field %s has two equality conditions", c.Field)
			}
			eq[c.Field] = c.Key
			continue
		case OpPrefix:
			if prefix != nil && prefix.Field == c.Field {
				return nil, fmt.Errorf("field %s has two prefix conditions", c.Field)
			}
			prefix = c
		case OpGt, OpGte:
			if lo != nil && lo.Field == c.Field {
				return nil, fmt.Errorf("field %s has two lower bounds (%s and %s)", c.Field, lo.Op, c.Op)
			}
			lo = c
		case OpLt, OpLte:
			if hi != nil && hi.Field == c.Field {
				return nil, fmt.Errorf("field %s has two upper bounds (%s and %s)", c.Field, hi.Op, c.Op)
			}
			hi = c
		default:
			return nil, fmt.Errorf("unknown condition %s on field %s", c.Op, c.Field)
		}
		if rng != "" && rng != c.Field {
			return nil, fmt.Errorf("range or prefix conditions on two fields (%s and %s): an index scan can have a range on one field only", rng, c.Field)
		}
		rng = c.Field
	}
	if _, both := eq[rng]; both && rng != "" {
		return nil, fmt.Errorf("field %s has an equality and a range condition", rng)
	}
	if prefix != nil && (lo != nil || hi != nil) {
		return nil, fmt.Errorf("field %s has a prefix and a range condition", rng)
	}
	// A range stays within the type of its bounds: [tlo, thi).
	var tlo, thi []byte
	for _, c := range []*Cond{lo, hi} {
		if c == nil {
			continue
		}
		l, h := TypeRange(c.Key)
		if tlo != nil && !bytes.Equal(l, tlo) {
			return nil, fmt.Errorf("field %s: the bounds of a range must be of one type", rng)
		}
		tlo, thi = l, h
	}
	desc := false
	if strings.HasPrefix(order, "-") {
		order, desc = order[1:], true
	}
	if len(conds) == 0 && order == "" {
		return &Query{Class: class, Desc: desc}, nil // every object, in id order
	}
	ix, k := chooseIndex(indexes, eq, rng, order)
	if ix == nil {
		return nil, noIndexError(class, indexes, eq, rng, order)
	}
	// The equality prefix, in the index's field order.
	var p []byte
	for _, f := range ix.Fields[:k] {
		p = append(p, eq[f]...)
	}
	q := &Query{Class: class, Index: ix.Name(), Fields: len(ix.Fields), Desc: desc}
	switch {
	case prefix != nil:
		q.Lo = append(append(bytes.Clone(p), StringTag), prefix.Key...)
		q.Hi = PrefixEnd(q.Lo)
	case lo != nil || hi != nil:
		q.Lo = append(bytes.Clone(p), tlo...)
		q.Hi = append(bytes.Clone(p), thi...)
		if lo != nil {
			q.Lo = append(bytes.Clone(p), lo.Key...)
			if lo.Op == OpGt {
				q.Lo = append(bytes.Clone(p), PrefixEnd(lo.Key)...)
			}
		}
		if hi != nil {
			q.Hi = append(bytes.Clone(p), hi.Key...)
			if hi.Op == OpLte {
				q.Hi = append(bytes.Clone(p), PrefixEnd(hi.Key)...)
			}
		}
	default:
		q.Lo = p
		if len(p) > 0 {
			q.Hi = PrefixEnd(p)
		}
	}
	return q, nil
}

// checkCondKey refuses a condition whose key is not one whole key component
// (or, for a prefix, not an escaped string), which would give a scan range
// that means nothing.
func checkCondKey(c *Cond) error {
	if c.Op == OpPrefix {
		for i := 0; i < len(c.Key); i++ {
			if c.Key[i] == 0 {
				if i+1 == len(c.Key) || c.Key[i+1] != 0xff {
					return fmt.Errorf("field %s: malformed prefix condition", c.Field)
				}
				i++
			}
		}
		return nil
	}
	if n, err := ComponentLen(c.Key); err != nil || n != len(c.Key) {
		return fmt.Errorf("field %s: malformed %s condition", c.Field, c.Op)
	}
	return nil
}

// chooseIndex returns the narrowest index serving the query and the number
// of its leading equality fields.
func chooseIndex(indexes []Index, eq map[string][]byte, rng, order string) (*Index, int) {
	var best *Index
	bestK := 0
	for i := range indexes {
		ix := &indexes[i]
		k := len(eq)
		if k > len(ix.Fields) {
			continue
		}
		ok := true
		for _, f := range ix.Fields[:k] {
			if _, in := eq[f]; !in {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		next := ""
		if k < len(ix.Fields) {
			next = ix.Fields[k]
		}
		if rng != "" && next != rng {
			continue
		}
		if order != "" {
			if _, isEq := eq[order]; !isEq && order != next {
				continue
			}
		}
		if best == nil || len(ix.Fields) < len(best.Fields) {
			best, bestK = ix, k
		}
	}
	return best, bestK
}

func noIndexError(class string, indexes []Index, eq map[string][]byte, rng, order string) error {
	var fields []string
	for f := range eq {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	if rng != "" {
		fields = append(fields, rng)
	}
	what := "a query on {" + strings.Join(fields, ", ") + "}"
	if len(fields) == 0 {
		what = "a query"
	}
	if order != "" {
		what += " ordered by " + order
	}
	var have []string
	for _, ix := range indexes {
		have = append(have, ix.String())
	}
	if len(have) == 0 {
		return fmt.Errorf("no index of %s serves %s: %s has no indexes (declare them with static indexes = [...])", class, what, class)
	}
	return fmt.Errorf("no index of %s serves %s; the indexes of %s are: %s", class, what, class, strings.Join(have, "; "))
}
