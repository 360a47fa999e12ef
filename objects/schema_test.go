package objects

import (
	"errors"
	"math"
	"math/big"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf16"
)

// ---------------------------------------------------------------- test nodes

// undef stands for JavaScript undefined in gonode input (nil is null).
type undef struct{}

// kv is one property of an ordered object literal in gonode input.
type kv struct {
	k string
	v any
}

// obj is an object whose keys keep their order; map[string]any sorts them.
type obj []kv

// jsMap and jsSet stand for a Map and a Set of the given size.
type (
	jsMap int
	jsSet int
)

// tnode implements Node over a tree converted up front, so that Index and
// Get do not allocate and benchmarks measure the validator only.
type tnode struct {
	kind  Kind
	b     bool
	num   float64
	str   string
	n     int
	elems []Node
	keys  []string
	props map[string]Node
	class string
}

func (t *tnode) Kind() Kind        { return t.kind }
func (t *tnode) Bool() bool        { return t.b }
func (t *tnode) Number() float64   { return t.num }
func (t *tnode) Str() string       { return t.str }
func (t *tnode) Len() int          { return t.n }
func (t *tnode) Index(i int) Node  { return t.elems[i] }
func (t *tnode) Keys() []string    { return t.keys }
func (t *tnode) RefClass() string  { return t.class }
func (t *tnode) Get(k string) Node { return t.props[k] } // nil when absent

// gonode converts a plain Go value into a Node tree.
func gonode(v any) Node {
	switch x := v.(type) {
	case Node:
		return x
	case undef:
		return &tnode{kind: KindUndefined}
	case nil:
		return &tnode{kind: KindNull}
	case bool:
		return &tnode{kind: KindBool, b: x}
	case int:
		return &tnode{kind: KindNumber, num: float64(x)}
	case float64:
		return &tnode{kind: KindNumber, num: x}
	case *big.Int:
		return &tnode{kind: KindBigInt}
	case string:
		return &tnode{kind: KindString, str: x, n: len(utf16.Encode([]rune(x)))}
	case []any:
		t := &tnode{kind: KindArray, n: len(x)}
		for _, e := range x {
			t.elems = append(t.elems, gonode(e))
		}
		return t
	case obj:
		t := &tnode{kind: KindObject, props: map[string]Node{}}
		for _, p := range x {
			t.keys = append(t.keys, p.k)
			t.props[p.k] = gonode(p.v)
		}
		return t
	case map[string]any:
		var o obj
		for k, e := range x {
			o = append(o, kv{k, e})
		}
		sort.Slice(o, func(i, j int) bool { return o[i].k < o[j].k })
		return gonode(o)
	case time.Time:
		return &tnode{kind: KindDate, num: float64(x.UnixMilli())}
	case jsMap:
		return &tnode{kind: KindMap, n: int(x)}
	case jsSet:
		return &tnode{kind: KindSet, n: int(x)}
	case Ref:
		return &tnode{kind: KindRef, class: x.Class}
	case []byte:
		return &tnode{kind: KindBytes, n: len(x)}
	case *regexp.Regexp:
		return &tnode{kind: KindRegExp}
	case error:
		return &tnode{kind: KindError}
	}
	return &tnode{kind: KindOther}
}

// ---------------------------------------------------------------- helpers

type rules = map[string]any

func mustSchema(t testing.TB, def map[string]any) *Schema {
	t.Helper()
	s, err := ParseSchema(def)
	if err != nil {
		t.Fatalf("ParseSchema: %v", err)
	}
	return s
}

// absent marks a test value as a missing field (ValidateField gets nil).
type absentT struct{}

var absent absentT

// ---------------------------------------------------------------- tests

func TestValidateField(t *testing.T) {
	date := func(s string) time.Time {
		d, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	longA := strings.Repeat("a", 65)
	tests := []struct {
		name   string
		rule   rules
		v      any
		broken string // broken rule; "" when v passes
		field  string // path of the failure; "" means "f"
		msg    string // expected message; "" to skip the check
	}{
		// required
		{"required present", rules{"required": true}, "x", "", "", ""},
		{"required absent", rules{"required": true}, absent, "required", "", "f is required"},
		{"required undefined", rules{"required": true}, undef{}, "required", "", "f is required"},
		{"required null ok", rules{"required": true}, nil, "", "", ""},
		{"required false absent", rules{"required": false}, absent, "", "", ""},
		{"absent passes rules", rules{"type": "string", "minLength": 3}, absent, "", "", ""},
		{"undefined passes rules", rules{"type": "number", "min": 3}, undef{}, "", "", ""},

		// type
		{"type string ok", rules{"type": "string"}, "x", "", "", ""},
		{"type string bad", rules{"type": "string"}, 5, "type", "", "f must be of type string (got 5)"},
		{"type number ok", rules{"type": "number"}, 1.5, "", "", ""},
		{"type number NaN ok", rules{"type": "number"}, math.NaN(), "", "", ""},
		{"type number bad", rules{"type": "number"}, "5", "type", "", `f must be of type number (got "5")`},
		{"type integer ok", rules{"type": "integer"}, 7, "", "", ""},
		{"type integer bad", rules{"type": "integer"}, 7.5, "type", "", "f must be of type integer (got 7.5)"},
		{"type integer inf", rules{"type": "integer"}, math.Inf(1), "type", "", "f must be of type integer (got Infinity)"},
		{"type boolean ok", rules{"type": "boolean"}, false, "", "", ""},
		{"type boolean bad", rules{"type": "boolean"}, 0, "type", "", ""},
		{"type bigint ok", rules{"type": "bigint"}, big.NewInt(3), "", "", ""},
		{"type bigint bad", rules{"type": "bigint"}, 3, "type", "", ""},
		{"type array ok", rules{"type": "array"}, []any{}, "", "", ""},
		{"type array bad", rules{"type": "array"}, obj{}, "type", "", "f must be of type array (got object)"},
		{"type object ok", rules{"type": "object"}, obj{}, "", "", ""},
		{"type object not array", rules{"type": "object"}, []any{1}, "type", "", "f must be of type object (got array of length 1)"},
		{"type object not date", rules{"type": "object"}, time.Unix(0, 0), "type", "", ""},
		{"type map ok", rules{"type": "map"}, jsMap(2), "", "", ""},
		{"type map bad", rules{"type": "map"}, jsSet(2), "type", "", "f must be of type map (got set)"},
		{"type set ok", rules{"type": "set"}, jsSet(0), "", "", ""},
		{"type date ok", rules{"type": "date"}, time.Unix(0, 0), "", "", ""},
		{"type ref ok", rules{"type": "ref"}, Ref{"A", "a"}, "", "", ""},
		{"type bytes ok", rules{"type": "bytes"}, []byte{1}, "", "", ""},
		{"type bytes bad", rules{"type": "bytes"}, "ab", "type", "", ""},
		{"type any", rules{"type": "any"}, errors.New("e"), "", "", ""},
		{"type any null", rules{"type": "any"}, nil, "", "", ""},
		{"type regexp only any", rules{"type": "object"}, regexp.MustCompile("a"), "type", "", "f must be of type object (got regexp)"},
		{"type null fails", rules{"type": "string"}, nil, "type", "", "f must be of type string (got null)"},
		{"union ok 1", rules{"type": []any{"string", "null"}}, "s", "", "", ""},
		{"union ok null", rules{"type": []any{"string", "null"}}, nil, "", "", ""},
		{"union bad", rules{"type": []any{"string", "number", "null"}}, true, "type", "", "f must be of type string, number or null (got true)"},
		{"union integer", rules{"type": []any{"integer", "string"}}, 2.5, "type", "", ""},

		// min, max, integer
		{"min ok", rules{"min": 0}, 0, "", "", ""},
		{"min bad", rules{"min": 0}, -5, "min", "", "f must be >= 0 (got -5)"},
		{"min float", rules{"min": 0.5}, 0.25, "min", "", "f must be >= 0.5 (got 0.25)"},
		{"min NaN", rules{"min": 0}, math.NaN(), "min", "", "f must be >= 0 (got NaN)"},
		{"max ok", rules{"max": int64(10)}, 10, "", "", ""},
		{"max bad", rules{"max": 10}, 11, "max", "", "f must be <= 10 (got 11)"},
		{"max -inf ok", rules{"max": 10}, math.Inf(-1), "", "", ""},
		{"min ignores strings", rules{"min": 3}, "ab", "", "", ""},
		{"integer ok", rules{"integer": true}, -3, "", "", ""},
		{"integer bad", rules{"integer": true}, 0.1, "integer", "", "f must be an integer (got 0.1)"},
		{"integer false", rules{"integer": false}, 0.1, "", "", ""},
		{"integer before min", rules{"integer": true, "min": 0}, -0.5, "integer", "", ""},
		{"date min ok", rules{"type": "date", "min": date("2020-01-01T00:00:00Z")}, date("2021-01-01T00:00:00Z"), "", "", ""},
		{"date min bad", rules{"type": "date", "min": date("2020-01-01T00:00:00Z")}, date("2019-01-01T00:00:00Z"), "min", "",
			"f must be >= 2020-01-01T00:00:00.000Z (got date 2019-01-01T00:00:00.000Z)"},
		{"date max ms", rules{"max": 0}, time.UnixMilli(1), "max", "", ""},

		// minLength, maxLength
		{"maxLength ok", rules{"maxLength": 64}, strings.Repeat("a", 64), "", "", ""},
		{"maxLength bad", rules{"maxLength": 64}, longA, "maxLength", "", "f must have length <= 64 (got 65)"},
		{"maxLength utf16", rules{"maxLength": 2}, "😀", "", "", ""},
		{"maxLength utf16 bad", rules{"maxLength": 2}, "😀x", "maxLength", "", "f must have length <= 2 (got 3)"},
		{"minLength bad", rules{"minLength": 1}, "", "minLength", "", "f must have length >= 1 (got 0)"},
		{"maxLength bytes", rules{"maxLength": 2}, []byte{1, 2, 3}, "maxLength", "", ""},
		{"maxLength ignores arrays", rules{"maxLength": 0}, []any{1}, "", "", ""},

		// pattern
		{"pattern ok", rules{"pattern": "^[A-Z]+$"}, "ABC", "", "", ""},
		{"pattern bad", rules{"pattern": "^[A-Z]+$"}, "abc", "pattern", "", `f must match /^[A-Z]+$/ (got "abc")`},
		{"pattern unanchored", rules{"pattern": "b"}, "abc", "", "", ""},
		{"pattern flags", rules{"pattern": "/^abc$/i"}, "ABC", "", "", ""},
		{"pattern flags bad", rules{"pattern": "/^abc$/"}, "ABC", "pattern", "", ""},
		{"pattern multiline", rules{"pattern": "/^b$/m"}, "a\nb", "", "", ""},
		{"pattern dotall", rules{"pattern": "/a.b/s"}, "a\nb", "", "", ""},
		{"pattern no dotall", rules{"pattern": "/a.b/"}, "a\nb", "pattern", "", ""},
		{"pattern ecma \\d ascii", rules{"pattern": `^\d$`}, "٣", "pattern", "", ""},
		{"pattern raw slash", rules{"pattern": "/usr/bin"}, "x/usr/bin", "", "", ""},
		{"pattern lone surrogate", rules{"pattern": "^a"}, "a\xed\xa0\x80", "", "", ""},
		{"pattern ignores numbers", rules{"pattern": "^a$"}, 5, "", "", ""},

		// enum
		{"enum ok", rules{"enum": []any{"red", "green"}}, "green", "", "", ""},
		{"enum bad", rules{"enum": []any{"red", "green"}}, "blue", "enum", "", `f must be one of "red", "green" (got "blue")`},
		{"enum number", rules{"enum": []any{int64(1), 2.5}}, 2.5, "", "", ""},
		{"enum number bad", rules{"enum": []any{int64(1), 2.5}}, "1", "enum", "", ""},
		{"enum zero", rules{"enum": []any{0}}, math.Copysign(0, -1), "", "", ""},
		{"enum NaN", rules{"enum": []any{math.NaN()}}, math.NaN(), "", "", ""},
		{"enum bool", rules{"enum": []any{true}}, false, "enum", "", "f must be one of true (got false)"},
		{"enum null", rules{"enum": []any{nil, "a"}}, nil, "", "", ""},
		{"enum object", rules{"enum": []any{"a"}}, obj{}, "enum", "", ""},

		// minItems, maxItems
		{"maxItems ok", rules{"maxItems": 2}, []any{1, 2}, "", "", ""},
		{"maxItems bad", rules{"maxItems": 2}, []any{1, 2, 3}, "maxItems", "", "f must have at most 2 items (got 3)"},
		{"minItems bad", rules{"minItems": 1}, []any{}, "minItems", "", "f must have at least 1 items (got 0)"},
		{"maxItems map", rules{"maxItems": 2}, jsMap(3), "maxItems", "", ""},
		{"minItems set", rules{"minItems": 2}, jsSet(2), "", "", ""},

		// items
		{"items ok", rules{"items": rules{"type": "array"}}, []any{[]any{}, []any{1}}, "", "", ""},
		{"items bad", rules{"items": rules{"type": "array"}}, []any{[]any{}, 1, 2, []any{}}, "type", "f[1]",
			"f[1] must be of type array (got 1)"},
		{"items hole passes", rules{"items": rules{"type": "number"}}, []any{1, undef{}}, "", "", ""},
		{"items required", rules{"items": rules{"required": true}}, []any{1, undef{}}, "required", "f[1]", "f[1] is required"},
		{"items nested", rules{"items": rules{"items": rules{"min": 0}}}, []any{[]any{1}, []any{2, -1}}, "min", "f[1][1]",
			"f[1][1] must be >= 0 (got -1)"},

		// properties
		{"properties ok", rules{"properties": rules{"city": rules{"type": "string", "required": true}}},
			obj{{"city", "Oslo"}, {"zip", 5}}, "", "", ""},
		{"properties required", rules{"properties": rules{"city": rules{"required": true}}},
			obj{{"zip", 5}}, "required", "f.city", "f.city is required"},
		{"properties type", rules{"properties": rules{"city": rules{"type": "string"}}},
			obj{{"city", 5}}, "type", "f.city", ""},
		{"properties odd key", rules{"properties": rules{"a b": rules{"type": "string"}}},
			obj{{"a b", 5}}, "type", `f["a b"]`, ""},
		{"properties deep", rules{"type": "object", "properties": rules{
			"lines": rules{"items": rules{"properties": rules{"qty": rules{"min": 1}}}}}},
			obj{{"lines", []any{obj{{"qty", 1}}, obj{{"qty", 0}}}}}, "min", "f.lines[1].qty",
			"f.lines[1].qty must be >= 1 (got 0)"},
		{"properties ignore non-objects", rules{"properties": rules{"a": rules{"required": true}}}, "s", "", "", ""},

		// class
		{"class ok", rules{"type": "ref", "class": "Account"}, Ref{"Account", "a"}, "", "", ""},
		{"class bad", rules{"type": "ref", "class": "Account"}, Ref{"User", "u"}, "class", "",
			"f must be a ref to class Account (got ref to class User)"},
		{"class not ref", rules{"type": "ref", "class": "Account"}, "Account/a", "type", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := mustSchema(t, map[string]any{"f": tc.rule})
			var n Node
			if tc.v != absent {
				n = gonode(tc.v)
			}
			err := s.ValidateField("f", n)
			if tc.broken == "" {
				if err != nil {
					t.Fatalf("want pass, got %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("want rule %q to fail, passed", tc.broken)
			}
			if err.Rule != tc.broken {
				t.Errorf("rule = %q, want %q (%v)", err.Rule, tc.broken, err)
			}
			field := tc.field
			if field == "" {
				field = "f"
			}
			if err.Field != field {
				t.Errorf("field = %q, want %q", err.Field, field)
			}
			if tc.msg != "" && err.Message != tc.msg {
				t.Errorf("message = %q, want %q", err.Message, tc.msg)
			}
			if err.Error() != err.Message {
				t.Errorf("Error() = %q, want the message", err.Error())
			}
		})
	}
}

func TestSchemaFields(t *testing.T) {
	s := mustSchema(t, map[string]any{
		"owner":   rules{"type": "string", "required": true, "maxLength": int64(64)},
		"balance": rules{"type": "number", "min": int64(0), "integer": true},
		"history": rules{"type": "array", "maxItems": int64(1000), "items": rules{"type": "array"}},
		"id":      rules{"required": true},
	})
	if got := strings.Join(s.Fields(), ","); got != "balance,history,id,owner" {
		t.Errorf("Fields = %s", got)
	}
	if got := strings.Join(s.Required(), ","); got != "id,owner" {
		t.Errorf("Required = %s", got)
	}
	s.Fields()[0] = "changed"
	if s.Fields()[0] != "balance" {
		t.Error("Fields exposes the schema's slice")
	}
	if err := s.ValidateField("other", gonode(5)); err != nil {
		t.Errorf("a field without rules failed: %v", err)
	}
	if err := s.ValidateField("balance", gonode(-5)); err == nil || err.Message != "balance must be >= 0 (got -5)" {
		t.Errorf("balance -5: %v", err)
	}
}

func TestParseSchemaErrors(t *testing.T) {
	tests := []struct {
		name string
		def  map[string]any
		want string // substring of the error, after "objects: bad schema: "
	}{
		{"not an object", map[string]any{"a": "string"}, `field "a": rules must be an object (got string "string")`},
		{"typo", map[string]any{"a": rules{"maxLenght": 3}}, `field "a": unknown rule (did you mean "maxLength"?) "maxLenght"`},
		{"unknown", map[string]any{"a": rules{"frobnicate": 3}}, `field "a": unknown rule "frobnicate"`},
		{"min string", map[string]any{"a": rules{"min": "3"}}, `field "a": rule "min": want a number (got string "3")`},
		{"max NaN", map[string]any{"a": rules{"max": math.NaN()}}, `rule "max": want a number (got number NaN)`},
		{"required", map[string]any{"a": rules{"required": "yes"}}, `field "a": rule "required": want true or false (got string "yes")`},
		{"integer", map[string]any{"a": rules{"integer": 1}}, `rule "integer": want true or false (got number 1)`},
		{"type unknown", map[string]any{"a": rules{"type": "text"}}, `field "a": rule "type": unknown type "text" (want one of "string"`},
		{"type not string", map[string]any{"a": rules{"type": 5}}, `rule "type": want a type name (got number 5)`},
		{"type empty union", map[string]any{"a": rules{"type": []any{}}}, `rule "type": empty type union`},
		{"type bad union", map[string]any{"a": rules{"type": []any{"string", "txt"}}}, `unknown type "txt"`},
		{"type null alone", map[string]any{"a": rules{"type": "null"}}, `type "null" is only allowed in a union`},
		{"maxLength negative", map[string]any{"a": rules{"maxLength": -1}}, `rule "maxLength": want a non-negative integer (got number -1)`},
		{"maxItems fraction", map[string]any{"a": rules{"maxItems": 1.5}}, `rule "maxItems": want a non-negative integer (got number 1.5)`},
		{"minLength > maxLength", map[string]any{"a": rules{"minLength": 3, "maxLength": 2}}, `rule "minLength": minLength 3 is greater than maxLength 2`},
		{"min > max", map[string]any{"a": rules{"min": 3, "max": 2}}, `rule "min": min 3 is greater than max 2`},
		{"minItems > maxItems", map[string]any{"a": rules{"minItems": 3, "maxItems": 2}}, `minItems 3 is greater than maxItems 2`},
		{"pattern bad", map[string]any{"a": rules{"pattern": "("}}, `field "a": rule "pattern": invalid regexp /(/`},
		{"pattern not string", map[string]any{"a": rules{"pattern": 5}}, `rule "pattern": want a regexp source string`},
		{"pattern flag", map[string]any{"a": rules{"pattern": "/a/y"}}, `rule "pattern": unsupported flag 'y'`},
		{"pattern dup flag", map[string]any{"a": rules{"pattern": "/a/ii"}}, `rule "pattern": duplicate flag 'i'`},
		{"enum empty", map[string]any{"a": rules{"enum": []any{}}}, `rule "enum": want a non-empty array of primitives (got array)`},
		{"enum object", map[string]any{"a": rules{"enum": []any{"a", rules{}}}}, `rule "enum": enum values must be strings, numbers, booleans or null (got object)`},
		{"class bad", map[string]any{"a": rules{"type": "ref", "class": "a/b"}}, `rule "class": want a class name (got string "a/b")`},
		{"class needs ref", map[string]any{"a": rules{"type": "string", "class": "A"}}, `rule "class": needs type "ref" (type is string)`},
		{"items not object", map[string]any{"a": rules{"items": "number"}}, `field "a[]": rules must be an object`},
		{"items bad rule", map[string]any{"a": rules{"items": rules{"min": "0"}}}, `field "a[]": rule "min": want a number`},
		{"properties not object", map[string]any{"a": rules{"properties": 1}}, `field "a": rule "properties": want an object of rules (got number 1)`},
		{"properties bad rule", map[string]any{"a": rules{"properties": rules{"b": rules{"maxItem": 1}}}},
			`field "a.b": unknown rule (did you mean "maxItems"?) "maxItem"`},
		{"deep", map[string]any{"a": rules{"items": rules{"properties": rules{"x y": rules{"type": "num"}}}}},
			`field "a[][\"x y\"]": rule "type": unknown type "num"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSchema(tc.def)
			if err == nil {
				t.Fatal("want an error")
			}
			if !errors.Is(err, ErrBadSchema) {
				t.Errorf("error does not wrap ErrBadSchema: %v", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %q\nwant it to contain %q", err, tc.want)
			}
		})
	}
}

func TestPatternTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("takes PatternTimeout")
	}
	s := mustSchema(t, map[string]any{"f": rules{"pattern": "^(a+)+$"}})
	start := time.Now()
	err := s.ValidateField("f", gonode(strings.Repeat("a", 5000)+"!"))
	if err == nil || err.Rule != "pattern" || !strings.Contains(err.Message, "could not be matched") {
		t.Fatalf("want a pattern timeout, got %v", err)
	}
	if d := time.Since(start); d > 20*PatternTimeout {
		t.Errorf("catastrophic pattern took %v", d)
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{KindUndefined: "undefined", KindBool: "boolean", KindRef: "ref", KindOther: "other", Kind(99): "kind(99)"} {
		if got := k.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", k, got, want)
		}
	}
}

func TestQuoteTruncates(t *testing.T) {
	s := mustSchema(t, map[string]any{"f": rules{"pattern": "^x"}})
	err := s.ValidateField("f", gonode(strings.Repeat("é", 30)))
	want := `f must match /^x/ (got "` + strings.Repeat("é", 20) + `"...)`
	if err == nil || err.Message != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}

func TestValidateNoAlloc(t *testing.T) {
	s, fields := benchSchema(t)
	allocs := testing.AllocsPerRun(100, func() {
		for _, f := range fields {
			if err := s.ValidateField(f.name, f.v); err != nil {
				t.Fatal(err)
			}
		}
	})
	if allocs != 0 {
		t.Errorf("success path allocates %v times", allocs)
	}
}

type benchField struct {
	name string
	v    Node
}

func benchSchema(t testing.TB) (*Schema, []benchField) {
	s := mustSchema(t, map[string]any{
		"owner":   rules{"type": "string", "required": true, "maxLength": int64(64)},
		"balance": rules{"type": "number", "min": int64(0), "integer": true},
		"history": rules{"type": "array", "maxItems": int64(1000), "items": rules{"type": "array", "maxItems": 2}},
		"status":  rules{"type": "string", "enum": []any{"open", "closed", "frozen"}},
		"address": rules{"type": "object", "properties": rules{
			"city": rules{"type": "string", "required": true},
			"zip":  rules{"type": []any{"string", "null"}, "maxLength": 10},
		}},
	})
	var history []any
	for i := 0; i < 20; i++ {
		history = append(history, []any{"in", i})
	}
	return s, []benchField{
		{"owner", gonode("alice")},
		{"balance", gonode(100)},
		{"history", gonode(history)},
		{"status", gonode("open")},
		{"address", gonode(obj{{"city", "Oslo"}, {"zip", "0150"}})},
	}
}

func BenchmarkValidate5Fields(b *testing.B) {
	s, fields := benchSchema(b)
	b.ReportAllocs()
	for b.Loop() {
		for _, f := range fields {
			if err := s.ValidateField(f.name, f.v); err != nil {
				b.Fatal(err)
			}
		}
	}
}
