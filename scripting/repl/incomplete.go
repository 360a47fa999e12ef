package repl

import "strings"

// Incomplete reports whether src is the beginning of an input that more
// lines could finish: it does not parse, and either it ends inside a
// template literal, a block comment or a string continued with a
// backslash, or the parser ran out of input (an open bracket, a trailing
// operator, `if (x)` without its statement). A string left open without a
// backslash, a stray closing bracket or an error before the end of the
// input is a syntax error to report now, as at Node's prompt.
func Incomplete(src string) bool {
	if strings.TrimSpace(src) == "" {
		return false
	}
	wrapped := prefix + src + "\n})"
	_, err := parse("", wrapped)
	if err == nil {
		return false
	}
	lx := lex(src)
	switch {
	case lx.broken:
		return false
	case lx.inComment, lx.inTemplate:
		return true
	case lx.inString:
		return lx.continued
	}
	msg, off := firstError(err, wrapped)
	// goja reports a try with no catch yet at the try; the catch may be
	// on the next line, as Node's REPL allows.
	return msg == "Unexpected end of input" || off >= len(prefix)+len(src) ||
		msg == "Missing catch or finally after try" && strings.HasSuffix(strings.TrimSpace(src), "}")
}

// lexState is what a rough scan of an input finds at its end.
type lexState struct {
	depth      int  // brackets and template substitutions left open
	broken     bool // a closing bracket that closes nothing, or the wrong one
	brokenAt   int  // ...at this offset
	inTemplate bool // inside a template literal's text
	inComment  bool // inside a block comment
	inString   bool // inside a quoted string
	continued  bool // ...whose line ends with a backslash
}

// regexKeywords are the words after which a slash starts a regular
// expression rather than a division.
var regexKeywords = map[string]bool{
	"return": true, "typeof": true, "instanceof": true, "in": true, "of": true, "new": true,
	"delete": true, "void": true, "throw": true, "case": true, "do": true, "else": true,
	"yield": true, "await": true,
}

// lex scans src for brackets, strings, template literals, comments and
// regular expressions. It is only asked about inputs that do not parse, to
// tell an unfinished input from a wrong one, so it may be approximate.
func lex(src string) lexState {
	var st lexState
	var stack []byte // '(', '[', '{', or '`' for a template substitution
	prev := byte(0)  // last significant character ('a' for a word or number)
	word := ""       // the last word, when prev == 'a'
	n := len(src)
	i := 0
	// template scans template text from i; it returns the index after the
	// closing backquote or after a "${", or n when the text is unfinished.
	template := func(i int) int {
		for i < n {
			switch src[i] {
			case '\\':
				i += 2
				continue
			case '`':
				return i + 1
			case '$':
				if i+1 < n && src[i+1] == '{' {
					stack = append(stack, '`')
					return i + 2
				}
			}
			i++
		}
		st.inTemplate = true
		return n
	}
	for i < n {
		c := src[i]
		switch {
		case isSpace(c):
			i++
		case c == '/' && i+1 < n && src[i+1] == '/':
			k := strings.IndexByte(src[i:], '\n')
			if k < 0 {
				i = n
			} else {
				i += k
			}
		case c == '/' && i+1 < n && src[i+1] == '*':
			k := strings.Index(src[i+2:], "*/")
			if k < 0 {
				st.inComment = true
				i = n
			} else {
				i += k + 4
			}
		case c == '\'' || c == '"':
			j := i + 1
			closed := false
			for j < n {
				if src[j] == '\\' {
					if j+1 >= n {
						st.continued = true
					}
					j += 2
					continue
				}
				if src[j] == c {
					closed = true
					break
				}
				if src[j] == '\n' {
					// An unterminated string on its own line: an error,
					// unless the line was continued with a backslash.
					break
				}
				j++
			}
			if !closed {
				if j >= n {
					st.inString = true
					return st
				}
				st.broken, st.brokenAt = true, i
				return st
			}
			i = j + 1
			prev, word = 'a', ""
		case c == '`':
			i = template(i + 1)
			prev, word = 'a', ""
		case c == '/':
			if prev == 'a' && !regexKeywords[word] || prev == ')' || prev == ']' || prev == '}' {
				i++ // division
				prev = '/'
				continue
			}
			j := i + 1
			class := false
			for j < n && src[j] != '\n' {
				if src[j] == '\\' {
					j += 2
					continue
				}
				if src[j] == '[' {
					class = true
				} else if src[j] == ']' {
					class = false
				} else if src[j] == '/' && !class {
					break
				}
				j++
			}
			if j >= n || src[j] != '/' {
				st.broken, st.brokenAt = true, i // an unterminated regular expression
				return st
			}
			i = j + 1
			for i < n && isIdentChar(src[i]) {
				i++
			}
			prev, word = 'a', ""
		case c == '(' || c == '[' || c == '{':
			stack = append(stack, c)
			i++
			prev = c
		case c == ')' || c == ']' || c == '}':
			open := map[byte]byte{')': '(', ']': '[', '}': '{'}[c]
			if len(stack) == 0 {
				st.broken, st.brokenAt = true, i
				return st
			}
			top := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if c == '}' && top == '`' {
				i = template(i + 1)
				prev, word = 'a', ""
				continue
			}
			if top != open {
				st.broken, st.brokenAt = true, i
				return st
			}
			i++
			prev = c
		case isIdentChar(c):
			j := i
			for j < n && isIdentChar(src[j]) {
				j++
			}
			prev, word = 'a', src[i:j]
			i = j
		default:
			prev = c
			i++
		}
	}
	st.depth = len(stack)
	return st
}
