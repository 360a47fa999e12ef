package jsinspect

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Style names, as in Node's util.inspect.styles.
const (
	styleSpecial   = "special"
	styleNumber    = "number"
	styleBigint    = "bigint"
	styleBoolean   = "boolean"
	styleUndefined = "undefined"
	styleNull      = "null"
	styleString    = "string"
	styleSymbol    = "symbol"
	styleDate      = "date"
	styleRegexp    = "regexp"
	styleName      = "name"
)

// styleCodes maps a style to its SGR open/close codes (Node's default
// inspect.styles resolved through inspect.colors).
var styleCodes = map[string][2]string{
	styleSpecial:   {"\x1b[36m", "\x1b[39m"}, // cyan
	styleNumber:    {"\x1b[33m", "\x1b[39m"}, // yellow
	styleBigint:    {"\x1b[33m", "\x1b[39m"}, // yellow
	styleBoolean:   {"\x1b[33m", "\x1b[39m"}, // yellow
	styleUndefined: {"\x1b[90m", "\x1b[39m"}, // grey
	styleNull:      {"\x1b[1m", "\x1b[22m"},  // bold
	styleString:    {"\x1b[32m", "\x1b[39m"}, // green
	styleSymbol:    {"\x1b[32m", "\x1b[39m"}, // green
	styleDate:      {"\x1b[35m", "\x1b[39m"}, // magenta
	styleRegexp:    {"\x1b[31m", "\x1b[39m"}, // red
}

func stylize(colors bool, s, style string) string {
	if !colors {
		return s
	}
	c, ok := styleCodes[style]
	if !ok {
		return s
	}
	return c[0] + s + c[1]
}

// meta holds the escapes of Node's strEscape for code units below 0xA0.
var meta = func() [0xa0]string {
	var m [0xa0]string
	for i := 0; i < 0x20; i++ {
		m[i] = `\x` + strings.ToUpper(hex2(i))
	}
	m['\b'], m['\t'], m['\n'], m['\f'], m['\r'] = `\b`, `\t`, `\n`, `\f`, `\r`
	m['\''] = `\'`
	m['\\'] = `\\`
	for i := 0x7f; i < 0xa0; i++ {
		m[i] = `\x` + strings.ToUpper(hex2(i))
	}
	return m
}()

func hex2(i int) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[i>>4], digits[i&15]})
}

// quoteKind selects the quote Node's strEscape wraps a string in.
type quoteKind byte

const (
	quoteSingle quoteKind = '\''
	quoteDouble quoteKind = '"'
	quoteBack   quoteKind = '`'
)

// jsText is a JavaScript string: Go text plus, when the string has lone
// surrogates, its runes (lone surrogates kept as surrogate rune values).
type jsText struct {
	s     string
	runes []rune // nil unless the string holds lone surrogates
}

func (t jsText) each(f func(r rune)) {
	if t.runes != nil {
		for _, r := range t.runes {
			f(r)
		}
		return
	}
	for _, r := range t.s {
		f(r)
	}
}

func chooseQuote(t jsText) quoteKind {
	var single, double, back, dollarBrace bool
	prev := rune(0)
	t.each(func(r rune) {
		switch r {
		case '\'':
			single = true
		case '"':
			double = true
		case '`':
			back = true
		case '{':
			if prev == '$' {
				dollarBrace = true
			}
		}
		prev = r
	})
	if !single {
		return quoteSingle
	}
	if !double {
		return quoteDouble
	}
	if !back && !dollarBrace {
		return quoteBack
	}
	return quoteSingle
}

// strEscape quotes and escapes a string like Node's strEscape.
func strEscape(b *strings.Builder, t jsText) {
	q := chooseQuote(t)
	b.WriteByte(byte(q))
	t.each(func(r rune) {
		switch {
		case r < 0xa0 && meta[r] != "" && (r != '\'' || q == quoteSingle):
			b.WriteString(meta[r])
		case r >= 0xd800 && r <= 0xdfff: // lone surrogate
			b.WriteString(`\u`)
			b.WriteString(strconv.FormatInt(int64(r), 16))
		default:
			b.WriteRune(r)
		}
	})
	b.WriteByte(byte(q))
}

func strEscapeString(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	strEscape(&b, jsText{s: s})
	return b.String()
}

// escapeNoQuote escapes like Node's strEscapeSequencesReplacer (used for
// symbol and non-enumerable keys): control characters, quote and backslash.
func escapeNoQuote(s string) string {
	needs := false
	for _, r := range s {
		if r < 0xa0 && meta[r] != "" {
			needs = true
			break
		}
	}
	if !needs {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if r < 0xa0 && meta[r] != "" {
			b.WriteString(meta[r])
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// jsLen is the length of s in UTF-16 code units (JavaScript's .length).
func jsLen(s string) int {
	n := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			n++
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if r > 0xffff {
			n += 2
		} else {
			n++
		}
	}
	return n
}

// visibleLen is jsLen(s) (after removing colours when colors is set), but
// stops counting once it exceeds limit.
func visibleLen(s string, colors bool, limit int) int {
	n := 0
	for i := 0; i < len(s) && n <= limit; {
		c := s[i]
		if c == 0x1b && colors && i+1 < len(s) && s[i+1] == '[' {
			j := i + 2
			for j < len(s) && (s[j] < 0x40 || s[j] > 0x7e) {
				j++
			}
			i = j + 1
			continue
		}
		if c == 0x1b && colors {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			n++
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if r > 0xffff {
			n += 2
		} else {
			n++
		}
	}
	return n
}

// removeColors strips ANSI escape sequences (CSI sequences and lone ESCs).
func removeColors(s string) string {
	if strings.IndexByte(s, 0x1b) < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != 0x1b {
			b.WriteByte(c)
			continue
		}
		if i+1 < len(s) && s[i+1] == '[' {
			j := i + 2
			for j < len(s) && (s[j] < 0x40 || s[j] > 0x7e) {
				j++
			}
			i = j
			continue
		}
	}
	return b.String()
}

// stringWidth approximates Node's getStringWidth (display columns).
func stringWidth(s string, removeControl bool) int {
	if removeControl {
		s = removeColors(s)
	}
	w := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 32 {
				w++
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case isFullWidth(r):
			w += 2
		case !isZeroWidth(r):
			w++
		}
	}
	return w
}

func isZeroWidth(c rune) bool {
	return c <= 0x1f || (c >= 0x7f && c <= 0x9f) || (c >= 0x300 && c <= 0x36f) ||
		(c >= 0x200b && c <= 0x200f) || (c >= 0x20d0 && c <= 0x20ff) ||
		(c >= 0xfe00 && c <= 0xfe0f) || (c >= 0xfe20 && c <= 0xfe2f) ||
		(c >= 0xe0100 && c <= 0xe01ef)
}

func isFullWidth(c rune) bool {
	return c >= 0x1100 && (c <= 0x115f || c == 0x2329 || c == 0x232a ||
		(c >= 0x2e80 && c <= 0x3247 && c != 0x303f) ||
		(c >= 0x3250 && c <= 0x4dbf) || (c >= 0x4e00 && c <= 0xa4c6) ||
		(c >= 0xa960 && c <= 0xa97c) || (c >= 0xac00 && c <= 0xd7a3) ||
		(c >= 0xf900 && c <= 0xfaff) || (c >= 0xfe10 && c <= 0xfe19) ||
		(c >= 0xfe30 && c <= 0xfe6b) || (c >= 0xff01 && c <= 0xff60) ||
		(c >= 0xffe0 && c <= 0xffe6) || (c >= 0x1b000 && c <= 0x1b001) ||
		(c >= 0x1f200 && c <= 0x1f251) || (c >= 0x1f300 && c <= 0x1f64f) ||
		(c >= 0x20000 && c <= 0x3fffd))
}

// padStart / padEnd pad to a JavaScript length of n.
func padStart(s string, n int) string {
	if l := jsLen(s); l < n {
		return strings.Repeat(" ", n-l) + s
	}
	return s
}

func padEnd(s string, n int) string {
	if l := jsLen(s); l < n {
		return s + strings.Repeat(" ", n-l)
	}
	return s
}

func remainingText(n int) string {
	if n > 1 {
		return "... " + strconv.Itoa(n) + " more items"
	}
	return "... " + strconv.Itoa(n) + " more item"
}

const (
	kObjectType = iota
	kArrayType
	kArrayExtrasType
)

const compact = 3 // Node's default `compact` option

func (in *inspector) isBelowBreakLength(output []string, start int, base string) bool {
	total := len(output) + start
	if total+len(output) > in.breakLength {
		return false
	}
	for _, s := range output {
		total += visibleLen(s, in.colors, in.breakLength-total+1)
		if total > in.breakLength {
			return false
		}
	}
	return base == "" || !strings.Contains(base, "\n")
}

// reduceToSingleString implements Node's reduceToSingleString for
// compact = 3. numeric reports whether value[i] is a number or bigint (used
// by the array grouping); it may be nil.
func (in *inspector) reduceToSingleString(output []string, base string, braces [2]string,
	extrasType, recurseTimes int, numeric func(i int) bool) string {
	entries := len(output)
	if extrasType == kArrayExtrasType && entries > 6 {
		output = in.groupArrayElements(output, numeric)
	}
	if in.currentDepth-recurseTimes < compact && entries == len(output) {
		start := len(output) + in.indentationLvl + jsLen(braces[0]) + jsLen(base) + 10
		if in.isBelowBreakLength(output, start, base) {
			joined := strings.Join(output, ", ")
			if !strings.Contains(joined, "\n") {
				var b strings.Builder
				b.Grow(len(base) + len(joined) + len(braces[0]) + len(braces[1]) + 4)
				if base != "" {
					b.WriteString(base)
					b.WriteByte(' ')
				}
				b.WriteString(braces[0])
				b.WriteByte(' ')
				b.WriteString(joined)
				b.WriteByte(' ')
				b.WriteString(braces[1])
				return b.String()
			}
		}
	}
	indentation := "\n" + strings.Repeat(" ", in.indentationLvl)
	var b strings.Builder
	size := len(base) + len(braces[0]) + len(braces[1]) + 2*len(indentation) + 3
	for _, s := range output {
		size += len(s) + len(indentation) + 3
	}
	b.Grow(size)
	if base != "" {
		b.WriteString(base)
		b.WriteByte(' ')
	}
	b.WriteString(braces[0])
	for i, s := range output {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(indentation)
		b.WriteString("  ")
		b.WriteString(s)
	}
	if len(output) == 0 {
		b.WriteString(indentation)
		b.WriteString("  ")
	}
	b.WriteString(indentation)
	b.WriteString(braces[1])
	return b.String()
}

// groupArrayElements implements Node's groupArrayElements: it lines up
// short array entries in aligned columns.
func (in *inspector) groupArrayElements(output []string, numeric func(i int) bool) []string {
	totalLength := 0
	maxLength := 0
	outputLength := len(output)
	if in.maxArrayLength < len(output) {
		// The "... n more items" entry is not taken into account.
		outputLength--
	}
	const separatorSpace = 2
	dataLen := make([]int, outputLength)
	for i := 0; i < outputLength; i++ {
		l := stringWidth(output[i], in.colors)
		dataLen[i] = l
		totalLength += l + separatorSpace
		if maxLength < l {
			maxLength = l
		}
	}
	actualMax := maxLength + separatorSpace
	if actualMax*3+in.indentationLvl < in.breakLength &&
		(float64(totalLength)/float64(actualMax) > 5 || maxLength <= 6) {
		const approxCharHeights = 2.5
		averageBias := math.Sqrt(float64(actualMax) - float64(totalLength)/float64(len(output)))
		biasedMax := math.Max(float64(actualMax)-3-averageBias, 1)
		columns := min(
			int(jsRound(math.Sqrt(approxCharHeights*biasedMax*float64(outputLength))/biasedMax)),
			(in.breakLength-in.indentationLvl)/actualMax,
			compact*4,
			15,
		)
		if columns <= 1 {
			return output
		}
		maxLineLength := make([]int, 0, columns)
		for i := 0; i < columns; i++ {
			lineMaxLength := 0
			for j := i; j < len(output); j += columns {
				if j < outputLength && dataLen[j] > lineMaxLength {
					lineMaxLength = dataLen[j]
				}
			}
			maxLineLength = append(maxLineLength, lineMaxLength+separatorSpace)
		}
		padNumbers := true
		if numeric != nil {
			for i := 0; i < len(output); i++ {
				if !numeric(i) {
					padNumbers = false
					break
				}
			}
		}
		tmp := make([]string, 0, outputLength/columns+2)
		var b strings.Builder
		for i := 0; i < outputLength; i += columns {
			maxIdx := min(i+columns, outputLength)
			b.Reset()
			j := i
			for ; j < maxIdx-1; j++ {
				padding := maxLineLength[j-i] + jsLen(output[j]) - dataLen[j]
				if padNumbers {
					b.WriteString(padStart(output[j]+", ", padding))
				} else {
					b.WriteString(padEnd(output[j]+", ", padding))
				}
			}
			if padNumbers {
				padding := maxLineLength[j-i] + jsLen(output[j]) - dataLen[j] - separatorSpace
				b.WriteString(padStart(output[j], padding))
			} else {
				b.WriteString(output[j])
			}
			tmp = append(tmp, b.String())
		}
		if in.maxArrayLength < len(output) {
			tmp = append(tmp, output[outputLength])
		}
		output = tmp
	}
	return output
}

// jsRound is JavaScript's Math.round.
func jsRound(x float64) float64 {
	return math.Floor(x + 0.5)
}
