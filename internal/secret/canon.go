package secret

import (
	"unicode/utf16"
	"unicode/utf8"
)

// canonical is text brought to the form in which the scrubber compares it
// with values: its bytes b, and for each byte the span [start[i], end[i]) of
// the original text it came from, so that a match can be cut out of the
// original.
//
// canonicalize, with decode set, undoes the usual re-encodings of a quoted
// value:
//
//   - JSON escapes behind any run of backslashes (one, doubled, tripled JSON
//     escaping): \uXXXX (surrogate pairs joined) becomes the character,
//     \UXXXXXXXX and \xXX (Go's, Python's and C's quoting) become the
//     character and the byte, \n \r \t \b \f count as whitespace, and a run
//     of backslashes before any
//     other character is dropped (\" → ", \\ → nothing, \/ → /);
//   - percent-encoding %XX in upper or lower case becomes the byte, also when
//     encoded again (%25XX, %2525XX);
//   - whitespace (ASCII spaces, tabs, line ends, \v \f \b), literal or
//     decoded, is dropped, so changed line ends, folded or added spacing and
//     line wrapping do not hide a value; so are a plus sign (form encoding's
//     space) and a decoded backslash.
//
// Without decode only whitespace is dropped: the raw form, which catches a
// quote whose first characters the text before it turned into an escape.
//
// The same function canonicalizes values and messages, so a value and a
// message quoting it in any of these encodings share their canonical bytes.
type canonical struct {
	b          []byte
	start, end []int32
}

func canonicalize(s string, decode bool) canonical {
	c := canonical{
		b:     make([]byte, 0, len(s)),
		start: make([]int32, 0, len(s)),
		end:   make([]int32, 0, len(s)),
	}
	for i := 0; i < len(s); {
		ch := s[i]
		switch {
		case decode && ch == '\\':
			j := i
			for j < len(s) && s[j] == '\\' {
				j++
			}
			if j == len(s) {
				i = j
				continue
			}
			switch s[j] {
			case 'u':
				if r, end, ok := decodeU(s, j); ok {
					c.emitRune(r, i, end)
					i = end
					continue
				}
				i = j // a lone \u: drop the backslashes, keep the u
			case 'U':
				// \UXXXXXXXX, as Go, Python and C quote a character outside
				// the Basic Multilingual Plane.
				if r, ok := hexN(s, j+1, 8); ok && utf8.ValidRune(r) {
					c.emitRune(r, i, j+9)
					i = j + 9
					continue
				}
				i = j
			case 'x':
				// \xXX, as Go, Python and C quote a byte.
				if r, ok := hexN(s, j+1, 2); ok {
					c.emitByte(byte(r), i, j+3)
					i = j + 3
					continue
				}
				i = j
			case 'n', 'r', 't', 'b', 'f':
				i = j + 1 // escaped whitespace
			default:
				i = j
			}
			continue
		case decode && ch == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			// %XX, also percent-encoded again (%25XX, %2525XX, …): a value in
			// a URL that another URL quotes.
			j := i + 1
			for s[j:j+2] == "25" && j+3 < len(s) && isHex(s[j+2]) && isHex(s[j+3]) {
				j += 2
			}
			c.emitByte(unhex(s[j])<<4|unhex(s[j+1]), i, j+2)
			i = j + 2
			continue
		}
		if !dropped(ch, false) && !(decode && ch == '+') {
			c.push(ch, i, i+1)
		}
		i++
	}
	return c
}

// decodeU decodes the \uXXXX whose u is at s[j], joining a surrogate pair
// (the second half may sit behind its own run of backslashes). It returns
// the rune and where its escape ends.
func decodeU(s string, j int) (rune, int, bool) {
	r, ok := hex4(s, j+1)
	if !ok {
		return 0, 0, false
	}
	end := j + 5
	if utf16.IsSurrogate(r) {
		k := end
		for k < len(s) && s[k] == '\\' {
			k++
		}
		if k > end && k < len(s) && s[k] == 'u' {
			if r2, ok := hex4(s, k+1); ok {
				if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
					return d, k + 5, true
				}
			}
		}
		return utf8.RuneError, end, true
	}
	return r, end, true
}

func hex4(s string, at int) (rune, bool) { return hexN(s, at, 4) }

// hexN reads n hex digits at s[at:].
func hexN(s string, at, n int) (rune, bool) {
	if at+n > len(s) {
		return 0, false
	}
	var r rune
	for _, h := range []byte(s[at : at+n]) {
		if !isHex(h) {
			return 0, false
		}
		r = r<<4 | rune(unhex(h))
	}
	return r, true
}

func isHex(h byte) bool {
	return '0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F'
}

func unhex(h byte) byte {
	switch {
	case h <= '9':
		return h - '0'
	case h <= 'F':
		return h - 'A' + 10
	}
	return h - 'a' + 10
}

// dropped reports whether a byte carries no weight in the canonical form:
// whitespace, and in the decoded form a backslash that came out of an escape
// and a plus sign (the space of form encoding).
func dropped(ch byte, decoded bool) bool {
	switch ch {
	case ' ', '\t', '\n', '\r', '\v', '\f', '\b':
		return true
	case '\\', '+':
		return decoded
	}
	return false
}

func (c *canonical) emitByte(b byte, start, end int) {
	if !dropped(b, true) {
		c.push(b, start, end)
	}
}

func (c *canonical) emitRune(r rune, start, end int) {
	var buf [utf8.UTFMax]byte
	n := utf8.EncodeRune(buf[:], r)
	for _, b := range buf[:n] {
		c.emitByte(b, start, end)
	}
}

func (c *canonical) push(b byte, start, end int) {
	c.b = append(c.b, b)
	c.start = append(c.start, int32(start))
	c.end = append(c.end, int32(end))
}
