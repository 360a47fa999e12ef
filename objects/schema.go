package objects

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dlclark/regexp2/v2"
)

// PatternTimeout bounds one `pattern` match, so that a regexp with
// catastrophic backtracking fails the constraint instead of hanging a commit.
const PatternTimeout = 100 * time.Millisecond

// Kind is the JavaScript type of a value seen through a Node.
type Kind uint8

// The kinds of values a Node can hold.
const (
	KindUndefined Kind = iota
	KindNull
	KindBool
	KindNumber
	KindBigInt
	KindString
	KindArray
	KindObject // a plain object
	KindDate
	KindMap
	KindSet
	KindRef
	KindBytes // ArrayBuffer or a typed array
	KindRegExp
	KindError
	KindOther // anything else (functions, symbols, host objects)
)

var kindNames = [...]string{
	KindUndefined: "undefined", KindNull: "null", KindBool: "boolean", KindNumber: "number",
	KindBigInt: "bigint", KindString: "string", KindArray: "array", KindObject: "object",
	KindDate: "date", KindMap: "map", KindSet: "set", KindRef: "ref", KindBytes: "bytes",
	KindRegExp: "regexp", KindError: "error", KindOther: "other",
}

// String returns the kind's lower-case name as used in schema messages
// ("number", "array", ...).
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Node is a read-only view of a JavaScript value. The scripting package
// implements it over goja values without copying them; methods that do not
// apply to a node's Kind return zero values.
type Node interface {
	Kind() Kind
	Bool() bool
	// Number is the value of a Number, or the milliseconds since the epoch
	// of a Date.
	Number() float64
	// Str is the value of a String as a Go string. It may hold invalid UTF-8
	// (lone surrogates); consumers must not panic on it.
	Str() string
	// Len is the UTF-16 length of a String, the length of an Array, the size
	// of a Map or Set, or the byte length of Bytes.
	Len() int
	// Index returns an Array element; a hole or undefined element is a Node
	// of Kind Undefined.
	Index(i int) Node
	// Keys returns an Object's own enumerable string keys in order.
	Keys() []string
	// Get returns an Object's property, or nil if it is absent.
	Get(key string) Node
	// RefClass is the class name of a Ref.
	RefClass() string
}

// ConstraintError reports a value that breaks a schema rule.
type ConstraintError struct {
	Field   string // path of the offending value: "owner", "history[3]", "address.city"
	Rule    string // the rule broken: "required", "type", "min", ...
	Message string // a sentence naming the field, the rule and the value
}

// Error returns the Message.
func (e *ConstraintError) Error() string { return e.Message }

// Schema is a compiled `static schema` of a class: rules per top-level field.
// A Schema is immutable and safe for concurrent use.
type Schema struct {
	fields   []string // sorted
	required []string // sorted
	rules    map[string]*rule
}

// Fields returns the names of the fields the schema has rules for, sorted.
func (s *Schema) Fields() []string { return slices.Clone(s.fields) }

// Required returns the names of the required fields, sorted.
func (s *Schema) Required() []string { return slices.Clone(s.required) }

// ValidateField checks one top-level field's new value against its rules;
// v == nil means the field is absent or undefined, which passes every rule
// but `required`. A field the schema does not name always passes. It returns
// nil when the value is valid, and does not allocate then (apart from what
// a `pattern` match needs).
func (s *Schema) ValidateField(field string, v Node) *ConstraintError {
	r := s.rules[field]
	if r == nil {
		return nil
	}
	if f := r.check(v); f != nil {
		return f.error(field)
	}
	return nil
}

// typeSet is a set of accepted `type` names.
type typeSet uint16

const (
	tString typeSet = 1 << iota
	tNumber
	tInteger
	tBoolean
	tBigInt
	tArray
	tObject
	tMap
	tSet
	tDate
	tRef
	tBytes
	tAny
	tNull
)

// typeNames is in the order unions are printed in messages.
var typeNames = [...]struct {
	name string
	bit  typeSet
}{
	{"string", tString}, {"number", tNumber}, {"integer", tInteger},
	{"boolean", tBoolean}, {"bigint", tBigInt}, {"array", tArray},
	{"object", tObject}, {"map", tMap}, {"set", tSet}, {"date", tDate},
	{"ref", tRef}, {"bytes", tBytes}, {"any", tAny}, {"null", tNull},
}

func typeBit(name string) typeSet {
	for _, t := range typeNames {
		if t.name == name {
			return t.bit
		}
	}
	return 0
}

// kindType maps a value's kind to the `type` that names it.
var kindType = [...]typeSet{
	KindNull: tNull, KindBool: tBoolean, KindNumber: tNumber, KindBigInt: tBigInt,
	KindString: tString, KindArray: tArray, KindObject: tObject, KindDate: tDate,
	KindMap: tMap, KindSet: tSet, KindRef: tRef, KindBytes: tBytes, KindOther: 0,
}

// accepts reports whether a value of kind k satisfies the type set.
func (ts typeSet) accepts(v Node, k Kind) bool {
	switch {
	case ts&tAny != 0:
		return true
	case int(k) >= len(kindType):
		return false
	case k == KindNumber && ts&tNumber == 0:
		return ts&tInteger != 0 && isInteger(v.Number())
	}
	return ts&kindType[k] != 0
}

func (ts typeSet) String() string {
	var names []string
	for _, t := range typeNames {
		if ts&t.bit != 0 {
			names = append(names, t.name)
		}
	}
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

func isInteger(x float64) bool { return !math.IsInf(x, 0) && math.Trunc(x) == x }

// rule is the compiled set of rules for one value.
type rule struct {
	types              typeSet // 0: no type rule
	required           bool
	integer            bool
	hasMin, hasMax     bool
	min, max           float64
	minLen, maxLen     int // -1: unset
	minItems, maxItems int // -1: unset
	pattern            *regexp2.Regexp
	patternSrc         string // "/src/flags", for messages
	enum               *enumSet
	items              *rule
	props              []prop // sorted by name
	class              string
}

type prop struct {
	name string
	rule *rule
}

// failure is a broken rule found by check. The path to the value is
// collected while the failure travels back up, innermost segment first, so
// that the success path builds nothing.
type failure struct {
	rev  []segment // path segments below the top-level field, reversed
	rule string
	msg  string // the sentence after the path
}

// segment is one step of a path: an array index, or a property key.
type segment struct {
	key   string
	index int // -1 for a key
}

func (f *failure) at(s segment) *failure {
	f.rev = append(f.rev, s)
	return f
}

// error renders the failure under top-level field name.
func (f *failure) error(field string) *ConstraintError {
	var b strings.Builder
	b.WriteString(field)
	for i := len(f.rev) - 1; i >= 0; i-- {
		f.rev[i].writeTo(&b)
	}
	path := b.String()
	return &ConstraintError{Field: path, Rule: f.rule, Message: path + " " + f.msg}
}

// writeTo appends the segment in JavaScript notation: .key, ["odd key"], [3].
func (s segment) writeTo(b *strings.Builder) {
	switch {
	case s.index >= 0:
		b.WriteByte('[')
		b.WriteString(strconv.Itoa(s.index))
		b.WriteByte(']')
	case IsIdentifier(s.key):
		b.WriteByte('.')
		b.WriteString(s.key)
	default:
		b.WriteByte('[')
		b.WriteString(strconv.Quote(s.key))
		b.WriteByte(']')
	}
}

func fail(ruleName, format string, args ...any) *failure {
	return &failure{rule: ruleName, msg: fmt.Sprintf(format, args...)}
}

func (r *rule) check(v Node) *failure {
	if v == nil || v.Kind() == KindUndefined {
		if r.required {
			return fail("required", "is required")
		}
		return nil
	}
	k := v.Kind()
	if r.types != 0 && !r.types.accepts(v, k) {
		return fail("type", "must be of type %s (got %s)", r.types, describe(v))
	}
	switch k {
	case KindNumber, KindDate:
		x, show := v.Number(), jsNumber
		if k == KindDate {
			show = isoDate
		} else if r.integer && !isInteger(x) {
			return fail("integer", "must be an integer (got %s)", describe(v))
		}
		if r.hasMin && !(x >= r.min) {
			return fail("min", "must be >= %s (got %s)", show(r.min), describe(v))
		}
		if r.hasMax && !(x <= r.max) {
			return fail("max", "must be <= %s (got %s)", show(r.max), describe(v))
		}
	case KindString, KindBytes:
		if err := r.checkLength(v); err != nil {
			return err
		}
		if k == KindString && r.pattern != nil {
			ok, err := r.pattern.MatchString(v.Str())
			if err != nil {
				return fail("pattern", "could not be matched against %s (%v)", r.patternSrc, err)
			}
			if !ok {
				return fail("pattern", "must match %s (got %s)", r.patternSrc, describe(v))
			}
		}
	case KindArray:
		if err := r.checkItems(v); err != nil {
			return err
		}
		if r.items != nil {
			n := v.Len()
			for i := 0; i < n; i++ {
				if f := r.items.check(v.Index(i)); f != nil {
					return f.at(segment{index: i})
				}
			}
		}
	case KindMap, KindSet:
		if err := r.checkItems(v); err != nil {
			return err
		}
	case KindObject:
		for i := range r.props {
			if f := r.props[i].rule.check(v.Get(r.props[i].name)); f != nil {
				return f.at(segment{key: r.props[i].name, index: -1})
			}
		}
	case KindRef:
		if r.class != "" && v.RefClass() != r.class {
			return fail("class", "must be a ref to class %s (got %s)", r.class, describe(v))
		}
	}
	if r.enum != nil && !r.enum.has(v, k) {
		return fail("enum", "must be one of %s (got %s)", r.enum, describe(v))
	}
	return nil
}

func (r *rule) checkLength(v Node) *failure {
	if r.minLen < 0 && r.maxLen < 0 {
		return nil
	}
	n := v.Len()
	if r.minLen >= 0 && n < r.minLen {
		return fail("minLength", "must have length >= %d (got %d)", r.minLen, n)
	}
	if r.maxLen >= 0 && n > r.maxLen {
		return fail("maxLength", "must have length <= %d (got %d)", r.maxLen, n)
	}
	return nil
}

func (r *rule) checkItems(v Node) *failure {
	if r.minItems < 0 && r.maxItems < 0 {
		return nil
	}
	n := v.Len()
	if r.minItems >= 0 && n < r.minItems {
		return fail("minItems", "must have at least %d items (got %d)", r.minItems, n)
	}
	if r.maxItems >= 0 && n > r.maxItems {
		return fail("maxItems", "must have at most %d items (got %d)", r.maxItems, n)
	}
	return nil
}

// enumSet holds the primitives of an `enum`, compared with SameValueZero.
type enumSet struct {
	strs             map[string]struct{}
	nums             []float64
	hasNaN           bool
	hasTrue, hasFals bool
	hasNull          bool
	desc             string
}

func (e *enumSet) has(v Node, k Kind) bool {
	switch k {
	case KindString:
		_, ok := e.strs[v.Str()]
		return ok
	case KindNumber:
		x := v.Number()
		if x != x {
			return e.hasNaN
		}
		for _, y := range e.nums {
			if x == y { // +0 == -0, as SameValueZero wants
				return true
			}
		}
	case KindBool:
		if v.Bool() {
			return e.hasTrue
		}
		return e.hasFals
	case KindNull:
		return e.hasNull
	}
	return false
}

func (e *enumSet) String() string { return e.desc }

// describe renders a value briefly for a message.
func describe(v Node) string {
	switch k := v.Kind(); k {
	case KindNumber:
		return jsNumber(v.Number())
	case KindString:
		return quote(v.Str())
	case KindBool:
		return strconv.FormatBool(v.Bool())
	case KindDate:
		return "date " + isoDate(v.Number())
	case KindArray:
		return "array of length " + strconv.Itoa(v.Len())
	case KindRef:
		return "ref to class " + v.RefClass()
	default:
		return k.String()
	}
}

// quote quotes s, cutting it to a readable length on a rune boundary.
func quote(s string) string {
	const limit = 40
	if len(s) <= limit {
		return strconv.Quote(s)
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + "..."
}

// jsNumber formats x the way JavaScript's String(x) does, near enough.
func jsNumber(x float64) string {
	switch {
	case x != x:
		return "NaN"
	case math.IsInf(x, 1):
		return "Infinity"
	case math.IsInf(x, -1):
		return "-Infinity"
	case x == 0:
		return "0"
	case isInteger(x) && math.Abs(x) < 1e21:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return strconv.FormatFloat(x, 'g', -1, 64)
}

func isoDate(ms float64) string {
	if ms != ms || math.IsInf(ms, 0) {
		return "Invalid Date"
	}
	return time.UnixMilli(int64(ms)).UTC().Format("2006-01-02T15:04:05.000Z")
}

// ---------------------------------------------------------------- parsing

// ParseSchema compiles a schema from the Go export of a class's
// `static schema`: a map from field name to a map of rules. Numbers may
// arrive as int, int64 or float64; `min`/`max` also accept a time.Time (an
// exported Date). Errors wrap ErrBadSchema and name the field and the rule;
// unknown rule names, ill-typed rule values and contradictions (min > max)
// are errors. The rules, each checked only on the kinds it applies to:
//
//   - type: a name or a union (array) of string, number, integer, boolean,
//     bigint, array, object (plain), map, set, date, ref, bytes, any and,
//     in a union, null. "any" accepts everything, null included.
//   - required: the value must not be absent or undefined.
//   - min, max: numbers, and dates (in ms since the epoch); NaN fails both.
//   - integer: a number must be a finite integer.
//   - minLength, maxLength: string length in UTF-16 units; bytes length.
//   - pattern: a JavaScript regexp source, optionally "/source/flags"
//     (flags d, g, i, m, s, u), tested unanchored like RegExp.test on
//     strings; a match that runs past PatternTimeout fails.
//   - enum: strings, numbers, booleans or null, compared with SameValueZero.
//   - minItems, maxItems: array length, Map and Set size.
//   - items: rules for every array element (holes are undefined).
//   - properties: rules for a plain object's named properties, recursively.
//   - class: a Ref must name this class.
func ParseSchema(def map[string]any) (*Schema, error) {
	s := &Schema{rules: make(map[string]*rule, len(def))}
	for _, name := range sortedKeys(def) {
		r, err := parseRule(name, def[name])
		if err != nil {
			return nil, err
		}
		s.fields = append(s.fields, name)
		s.rules[name] = r
		if r.required {
			s.required = append(s.required, name)
		}
	}
	return s, nil
}

// ruleNames lists every rule ParseSchema knows, for typo suggestions.
var ruleNames = [...]string{
	"type", "required", "min", "max", "integer", "minLength", "maxLength",
	"pattern", "enum", "minItems", "maxItems", "items", "properties", "class",
}

func badRule(field, ruleName, format string, args ...any) error {
	return fmt.Errorf("%w: field %q: rule %q: %s", ErrBadSchema, field, ruleName, fmt.Sprintf(format, args...))
}

func parseRule(field string, def any) (*rule, error) {
	m, ok := def.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: field %q: rules must be an object (got %s)", ErrBadSchema, field, describeGo(def))
	}
	r := &rule{minLen: -1, maxLen: -1, minItems: -1, maxItems: -1}
	for _, name := range sortedKeys(m) {
		val := m[name]
		var err error
		switch name {
		case "type":
			r.types, err = parseTypes(val)
		case "required":
			r.required, err = parseBool(val)
		case "integer":
			r.integer, err = parseBool(val)
		case "min":
			r.min, err = parseBound(val)
			r.hasMin = err == nil
		case "max":
			r.max, err = parseBound(val)
			r.hasMax = err == nil
		case "minLength":
			r.minLen, err = parseCount(val)
		case "maxLength":
			r.maxLen, err = parseCount(val)
		case "minItems":
			r.minItems, err = parseCount(val)
		case "maxItems":
			r.maxItems, err = parseCount(val)
		case "pattern":
			r.pattern, r.patternSrc, err = parsePattern(val)
		case "enum":
			r.enum, err = parseEnum(val)
		case "class":
			s, ok := val.(string)
			if !ok || !IsIdentifier(s) {
				err = fmt.Errorf("want a class name (got %s)", describeGo(val))
			}
			r.class = s
		case "items":
			r.items, err = parseRule(field+"[]", val)
			if err != nil {
				return nil, err
			}
		case "properties":
			r.props, err = parseProps(field, val)
			if err != nil {
				return nil, err
			}
		default:
			msg := "unknown rule"
			if s := suggest(name); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			return nil, fmt.Errorf("%w: field %q: %s %q", ErrBadSchema, field, msg, name)
		}
		if err != nil {
			return nil, badRule(field, name, "%v", err)
		}
	}
	switch {
	case r.hasMin && r.hasMax && r.min > r.max:
		return nil, badRule(field, "min", "min %s is greater than max %s", jsNumber(r.min), jsNumber(r.max))
	case r.minLen >= 0 && r.maxLen >= 0 && r.minLen > r.maxLen:
		return nil, badRule(field, "minLength", "minLength %d is greater than maxLength %d", r.minLen, r.maxLen)
	case r.minItems >= 0 && r.maxItems >= 0 && r.minItems > r.maxItems:
		return nil, badRule(field, "minItems", "minItems %d is greater than maxItems %d", r.minItems, r.maxItems)
	case r.class != "" && r.types != 0 && r.types&(tRef|tAny) == 0:
		return nil, badRule(field, "class", "needs type \"ref\" (type is %s)", r.types)
	}
	return r, nil
}

func parseProps(field string, val any) ([]prop, error) {
	m, ok := val.(map[string]any)
	if !ok {
		return nil, badRule(field, "properties", "want an object of rules (got %s)", describeGo(val))
	}
	props := make([]prop, 0, len(m))
	for _, name := range sortedKeys(m) {
		var b strings.Builder
		b.WriteString(field)
		segment{key: name, index: -1}.writeTo(&b)
		r, err := parseRule(b.String(), m[name])
		if err != nil {
			return nil, err
		}
		props = append(props, prop{name: name, rule: r})
	}
	return props, nil
}

func parseTypes(val any) (typeSet, error) {
	one := func(v any) (typeSet, error) {
		s, ok := v.(string)
		if !ok {
			return 0, fmt.Errorf("want a type name (got %s)", describeGo(v))
		}
		bit := typeBit(s)
		if bit == 0 {
			return 0, fmt.Errorf("unknown type %q (want one of %s)", s, allTypes())
		}
		return bit, nil
	}
	list, ok := val.([]any)
	if !ok {
		ts, err := one(val)
		if ts == tNull {
			return 0, fmt.Errorf(`type "null" is only allowed in a union`)
		}
		return ts, err
	}
	if len(list) == 0 {
		return 0, fmt.Errorf("empty type union")
	}
	var ts typeSet
	for _, v := range list {
		bit, err := one(v)
		if err != nil {
			return 0, err
		}
		ts |= bit
	}
	return ts, nil
}

func allTypes() string {
	var names []string
	for _, t := range typeNames {
		names = append(names, strconv.Quote(t.name))
	}
	return strings.Join(names, ", ")
}

func parseBool(val any) (bool, error) {
	b, ok := val.(bool)
	if !ok {
		return false, fmt.Errorf("want true or false (got %s)", describeGo(val))
	}
	return b, nil
}

// toFloat converts an exported JavaScript number.
func toFloat(val any) (float64, bool) {
	switch x := val.(type) {
	case float64:
		return x, true
	case int64:
		return float64(x), true
	case int:
		return float64(x), true
	}
	return 0, false
}

func parseBound(val any) (float64, error) {
	if t, ok := val.(time.Time); ok {
		return float64(t.UnixMilli()), nil
	}
	x, ok := toFloat(val)
	if !ok || x != x {
		return 0, fmt.Errorf("want a number (got %s)", describeGo(val))
	}
	return x, nil
}

func parseCount(val any) (int, error) {
	x, ok := toFloat(val)
	if !ok || !isInteger(x) || x < 0 || x > math.MaxInt32 {
		return 0, fmt.Errorf("want a non-negative integer (got %s)", describeGo(val))
	}
	return int(x), nil
}

// parsePattern compiles a pattern the way `new RegExp(src, flags)` would.
func parsePattern(val any) (*regexp2.Regexp, string, error) {
	src, ok := val.(string)
	if !ok {
		return nil, "", fmt.Errorf("want a regexp source string (got %s)", describeGo(val))
	}
	flags := ""
	if i := strings.LastIndexByte(src, '/'); len(src) > 1 && src[0] == '/' && i > 0 &&
		strings.Trim(src[i+1:], "dgimsuyv") == "" {
		src, flags = src[1:i], src[i+1:]
	}
	opts := regexp2.ECMAScript
	for i, f := range flags {
		if strings.ContainsRune(flags[i+1:], f) {
			return nil, "", fmt.Errorf("duplicate flag %q", f)
		}
		switch f {
		case 'd', 'g': // no effect on a test
		case 'i':
			opts |= regexp2.IgnoreCase
		case 'm':
			opts |= regexp2.Multiline
		case 's':
			opts |= regexp2.Singleline
		case 'u':
			opts |= regexp2.Unicode
		default:
			return nil, "", fmt.Errorf("unsupported flag %q", f)
		}
	}
	re, err := regexp2.Compile(src, opts)
	if err != nil {
		return nil, "", fmt.Errorf("invalid regexp /%s/: %w", src, err)
	}
	re.MatchTimeout = PatternTimeout
	return re, "/" + src + "/" + flags, nil
}

func parseEnum(val any) (*enumSet, error) {
	list, ok := val.([]any)
	if !ok || len(list) == 0 {
		return nil, fmt.Errorf("want a non-empty array of primitives (got %s)", describeGo(val))
	}
	e := &enumSet{strs: map[string]struct{}{}}
	descs := make([]string, 0, len(list))
	for _, v := range list {
		switch x := v.(type) {
		case nil:
			e.hasNull = true
			descs = append(descs, "null")
		case bool:
			if x {
				e.hasTrue = true
			} else {
				e.hasFals = true
			}
			descs = append(descs, strconv.FormatBool(x))
		case string:
			e.strs[x] = struct{}{}
			descs = append(descs, quote(x))
		default:
			f, ok := toFloat(v)
			if !ok {
				return nil, fmt.Errorf("enum values must be strings, numbers, booleans or null (got %s)", describeGo(v))
			}
			if f != f {
				e.hasNaN = true
			} else {
				e.nums = append(e.nums, f)
			}
			descs = append(descs, jsNumber(f))
		}
	}
	const show = 10
	if len(descs) > show {
		descs = append(descs[:show], fmt.Sprintf("... (%d more)", len(list)-show))
	}
	e.desc = strings.Join(descs, ", ")
	return e, nil
}

// describeGo renders an exported JavaScript value for a schema error.
func describeGo(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return "string " + quote(x)
	case bool:
		return "boolean " + strconv.FormatBool(x)
	case []any:
		return "array"
	case map[string]any:
		return "object"
	case time.Time:
		return "date"
	}
	if f, ok := toFloat(v); ok {
		return "number " + jsNumber(f)
	}
	return fmt.Sprintf("%T", v)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// suggest returns the known rule name closest to a misspelt one, if any is
// within two edits.
func suggest(name string) string {
	best, bestD := "", 3
	for _, known := range ruleNames {
		if d := editDistance(name, known); d < bestD {
			best, bestD = known, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	row := make([]int, len(b)+1)
	for j := range row {
		row[j] = j
	}
	for i := 1; i <= len(a); i++ {
		prev := row[0]
		row[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			prev, row[j] = row[j], min(row[j]+1, row[j-1]+1, prev+cost)
		}
	}
	return row[len(b)]
}
