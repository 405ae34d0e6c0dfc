package request

import (
	"bytes"
	"unicode/utf16"
	"unicode/utf8"
)

// lexer reads JSON text (RFC 8259) one piece at a time for the parser, which
// drives it by what it expects next.
//
// It exists instead of json.Decoder.Token because Token decodes every scalar
// through reflection and its syntax errors quote input characters, which may
// belong to a secret value. The lexer's messages never quote input; it keeps
// byte offsets, so that problems sort by position and object values can be
// sliced raw for json.Compact; and it refuses \u escapes of unpaired
// surrogates instead of silently turning them into U+FFFD, because a changed
// secret is worse than a refused one. FuzzParse checks it against
// encoding/json.
//
// The first syntax error is kept in err and moves pos to the end of data, so
// every later call finds nothing more and loops end.
type lexer struct {
	data []byte
	pos  int
	err  *syntaxError
	// names holds the member names of the objects value is inside, for
	// duplicate checks; each object uses the tail it appended.
	names [][]byte
}

// syntaxError is where and why data stopped being JSON.
type syntaxError struct {
	pos int
	msg string
}

// maxDepth bounds nesting, so that recursion stays shallow.
const maxDepth = 64

// mapNamesAfter is how many member names an object may have before
// duplicate checks switch from a linear scan to a map.
const mapNamesAfter = 32

func (l *lexer) fail(msg string) {
	if l.err == nil {
		l.err = &syntaxError{pos: l.pos, msg: msg}
	}
	l.pos = len(l.data)
}

// expected fails saying what was expected at pos.
func (l *lexer) expected(what string) {
	if l.pos >= len(l.data) {
		l.fail("the document ends early; expected " + what)
		return
	}
	l.fail("expected " + what)
}

// peek skips white space and returns the next byte, or 0 at the end.
func (l *lexer) peek() byte {
	for l.pos < len(l.data) {
		switch c := l.data[l.pos]; c {
		case ' ', '\t', '\n', '\r':
			l.pos++
		default:
			return c
		}
	}
	return 0
}

// atEnd reports whether only white space is left.
func (l *lexer) atEnd() bool {
	l.peek()
	return l.pos >= len(l.data)
}

// nextMember reads the name of the n-th member (from 0) of the object whose
// "{" was consumed, and the ":" after it. It reports false after consuming
// the closing "}", or on a syntax error. pos is where the name starts.
func (l *lexer) nextMember(n int) (name []byte, pos int, ok bool) {
	c := l.peek()
	if c == '}' {
		l.pos++
		return nil, 0, false
	}
	if n > 0 {
		if c != ',' {
			l.expected(`"," or "}" after an object member`)
			return nil, 0, false
		}
		l.pos++
		c = l.peek()
	}
	if c != '"' {
		l.expected("a member name in double quotes")
		return nil, 0, false
	}
	pos = l.pos
	name, ok = l.str()
	if !ok {
		return nil, 0, false
	}
	if l.peek() != ':' {
		l.expected(`":" after a member name`)
		return nil, 0, false
	}
	l.pos++
	return name, pos, true
}

// nextElement moves to the n-th element (from 0) of the array whose "[" was
// consumed. It reports false after consuming the closing "]", or on a syntax
// error. pos is where the element starts.
func (l *lexer) nextElement(n int) (pos int, ok bool) {
	c := l.peek()
	if c == ']' {
		l.pos++
		return 0, false
	}
	if n > 0 {
		if c != ',' {
			l.expected(`"," or "]" after an array element`)
			return 0, false
		}
		l.pos++
		l.peek()
	}
	if l.pos >= len(l.data) {
		l.expected("an array element")
		return 0, false
	}
	return l.pos, true
}

// str reads the string at pos, which is a '"', and returns its unescaped
// bytes: a slice of data when it has no escapes, else a new buffer.
func (l *lexer) str() ([]byte, bool) {
	start := l.pos + 1
	for i := start; i < len(l.data); i++ {
		switch c := l.data[i]; {
		case c == '"':
			l.pos = i + 1
			return l.data[start:i], true
		case c == '\\':
			return l.strEscaped(start, i)
		case c < 0x20:
			l.pos = i
			l.fail(`a string holds a control character; escape it (\n, \t, \u0000)`)
			return nil, false
		}
	}
	l.pos = len(l.data)
	l.expected(`the string's closing '"'`)
	return nil, false
}

// strEscaped continues str from the first backslash at i.
func (l *lexer) strEscaped(start, i int) ([]byte, bool) {
	d := l.data
	buf := make([]byte, i-start, i-start+16)
	copy(buf, d[start:i])
	for i < len(d) {
		c := d[i]
		switch {
		case c == '"':
			l.pos = i + 1
			return buf, true
		case c < 0x20:
			l.pos = i
			l.fail(`a string holds a control character; escape it (\n, \t, \u0000)`)
			return nil, false
		case c != '\\':
			buf = append(buf, c)
			i++
			continue
		}
		if i+1 >= len(d) {
			break
		}
		switch d[i+1] {
		case '"', '\\', '/':
			buf = append(buf, d[i+1])
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := hex4(d[i+2:])
			if !ok {
				l.pos = i
				l.fail(`a \u escape needs four hexadecimal digits`)
				return nil, false
			}
			if utf16.IsSurrogate(r) {
				r2, ok := rune(0), false
				if r < 0xDC00 && i+12 <= len(d) && d[i+6] == '\\' && d[i+7] == 'u' {
					r2, ok = hex4(d[i+8:])
				}
				if !ok || r2 < 0xDC00 || r2 > 0xDFFF {
					l.pos = i
					l.fail(`a \u escape is half of a UTF-16 surrogate pair; send valid Unicode`)
					return nil, false
				}
				r = utf16.DecodeRune(r, r2)
				i += 6
			}
			buf = utf8.AppendRune(buf, r)
			i += 6
			continue
		default:
			l.pos = i
			l.fail(`a string holds an invalid escape; the escapes are \" \\ \/ \b \f \n \r \t \uXXXX`)
			return nil, false
		}
		i += 2
	}
	l.pos = len(d)
	l.expected(`the string's closing '"'`)
	return nil, false
}

// hex4 decodes four hexadecimal digits at the start of b.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// number reads the number at pos and returns its text as written.
func (l *lexer) number() ([]byte, bool) {
	d, i := l.data, l.pos
	digits := func() bool {
		j := i
		for i < len(d) && isDigit(d[i]) {
			i++
		}
		return i > j
	}
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case !digits():
		l.pos = i
		l.expected("a digit in a number")
		return nil, false
	}
	if i < len(d) && d[i] == '.' {
		i++
		if !digits() {
			l.pos = i
			l.expected(`a digit after a number's "."`)
			return nil, false
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if !digits() {
			l.pos = i
			l.expected("a digit in a number's exponent")
			return nil, false
		}
	}
	text := d[l.pos:i]
	l.pos = i
	return text, true
}

// literal reads true, false or null at pos; word is the one its first byte
// announces.
func (l *lexer) literal(word string) bool {
	if !bytes.HasPrefix(l.data[l.pos:], []byte(word)) {
		l.expected("true, false, null, a number, a string, an array or an object")
		return false
	}
	l.pos += len(word)
	return true
}

// value reads one value of any kind, checking its syntax and that no object
// in it repeats a member name. It reports whether one did.
func (l *lexer) value(depth int) (dup bool) {
	switch c := l.peek(); c {
	case '{':
		if depth >= maxDepth {
			l.fail("the document nests deeper than 64 levels")
			return false
		}
		l.pos++
		base := len(l.names)
		var set map[string]struct{}
		for n := 0; ; n++ {
			name, _, ok := l.nextMember(n)
			if !ok {
				break
			}
			if set != nil {
				if _, seen := set[string(name)]; seen {
					dup = true
				}
				set[string(name)] = struct{}{}
			} else {
				for _, m := range l.names[base:] {
					if bytes.Equal(m, name) {
						dup = true
					}
				}
				if l.names == nil {
					l.names = make([][]byte, 0, 16)
				}
				l.names = append(l.names, name)
				if len(l.names)-base > mapNamesAfter {
					set = make(map[string]struct{}, 2*mapNamesAfter)
					for _, m := range l.names[base:] {
						set[string(m)] = struct{}{}
					}
				}
			}
			if l.value(depth + 1) {
				dup = true
			}
		}
		clear(l.names[base:])
		l.names = l.names[:base]
	case '[':
		if depth >= maxDepth {
			l.fail("the document nests deeper than 64 levels")
			return false
		}
		l.pos++
		for n := 0; ; n++ {
			if _, ok := l.nextElement(n); !ok {
				break
			}
			if l.value(depth + 1) {
				dup = true
			}
		}
	case '"':
		l.str()
	case 't':
		l.literal("true")
	case 'f':
		l.literal("false")
	case 'n':
		l.literal("null")
	default:
		if c == '-' || isDigit(c) {
			l.number()
			return false
		}
		l.expected("true, false, null, a number, a string, an array or an object")
	}
	return dup
}

// startsValue reports whether c can start a JSON value.
func startsValue(c byte) bool {
	switch c {
	case '{', '[', '"', 't', 'f', 'n', '-':
		return true
	}
	return isDigit(c)
}

// describe names the kind of value that starts with c, for "must be X, not
// Y" messages; c must satisfy startsValue.
func describe(c byte) string {
	switch c {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// lineColumn turns a byte offset into a 1-based line and a 1-based column
// counted in characters.
func lineColumn(data []byte, pos int) (line, col int) {
	pos = min(pos, len(data))
	line = 1 + bytes.Count(data[:pos], []byte{'\n'})
	start := bytes.LastIndexByte(data[:pos], '\n') + 1
	return line, 1 + utf8.RuneCount(data[start:pos])
}
