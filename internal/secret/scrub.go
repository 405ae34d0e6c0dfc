package secret

import (
	"context"
	"errors"
	"hash/maphash"
	"net/url"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
)

// MinPiece is the length, in characters, of the shortest piece of a value
// that Scrub removes wherever it appears. A value shorter than MinPiece is
// removed only whole.
const MinPiece = 12

// minUnits is the floor of a value's piece length in canonical bytes. A value
// whose MinPiece-character windows shrink below it when canonicalized (runs
// of whitespace, escapes written inside the value itself) is matched on
// pieces of minUnits canonical bytes: lower would cut out unrelated text.
const minUnits = 8

// Scrubber removes the secret values of one invocation from text that a
// dependency sent back (see Scrub). It is safe for concurrent use; the zero
// Scrubber and a nil *Scrubber know no value and change nothing.
//
// It is the one other reader of a Value's text besides Reveal, and it never
// returns that text: only what is left of a message after every piece of a
// value is cut out.
type Scrubber struct {
	mu     sync.Mutex
	values []string
	m      *matcher // built on first use after the values last changed
}

// NewScrubber returns a Scrubber that knows values.
func NewScrubber(values ...Value) *Scrubber {
	s := &Scrubber{}
	s.Add(values...)
	return s
}

// Add makes s know values too. Empty values are ignored.
func (s *Scrubber) Add(values ...Value) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range values {
		if v.p == nil || *v.p == "" || slices.Contains(s.values, *v.p) {
			continue
		}
		s.values = append(s.values, *v.p)
		s.m = nil
	}
}

// Scrub returns text with every piece of a known value replaced by
// Redacted: every run of MinPiece or more characters of a value, and a value
// shorter than that whole, as the value's bytes and in the usual
// re-encodings a message can quote it in: JSON \u escapes (mixed with plain
// characters), doubled JSON escaping, percent-encoding in either hex case,
// changed line ends, spacing and line wrapping. See canonicalize for the
// exact rules.
func (s *Scrubber) Scrub(text string) string {
	if s == nil || text == "" {
		return text
	}
	s.mu.Lock()
	if s.m == nil && len(s.values) > 0 {
		s.m = newMatcher(s.values)
	}
	m := s.m
	s.mu.Unlock()
	if m == nil {
		return text
	}
	return m.scrub(text)
}

// Wrap returns err with every rendering of its text scrubbed (nil for nil):
// Error() of the result is s.Scrub(err.Error()), and problem documents built
// from it are scrubbed by the same s (see ScrubberOf). errors.Is and As see
// err through it.
func (s *Scrubber) Wrap(err error) error {
	if err == nil || s == nil {
		return err
	}
	if ScrubberOf(err) == s {
		return err
	}
	return &ScrubbedError{err: err, scrubber: s}
}

// ScrubbedError is an error whose text is scrubbed of one invocation's
// values; see Scrubber.Wrap.
type ScrubbedError struct {
	err      error
	scrubber *Scrubber
}

// Error returns the scrubbed text of the wrapped error.
func (e *ScrubbedError) Error() string { return e.scrubber.Scrub(e.err.Error()) }

// Unwrap returns the wrapped error.
func (e *ScrubbedError) Unwrap() error { return e.err }

// ScrubberOf returns the Scrubber of the outermost ScrubbedError in err's
// tree, or nil.
func ScrubberOf(err error) *Scrubber {
	if e, ok := errors.AsType[*ScrubbedError](err); ok {
		return e.scrubber
	}
	return nil
}

type scrubberKey struct{}

// WithScrubber returns ctx carrying a Scrubber, and that Scrubber: the one
// ctx already carries, or a new one. Code that learns a value adds it to the
// returned Scrubber; code that turns a dependency's answer into text reads it
// with ScrubberFrom.
func WithScrubber(ctx context.Context) (context.Context, *Scrubber) {
	if s := ScrubberFrom(ctx); s != nil {
		return ctx, s
	}
	s := &Scrubber{}
	return context.WithValue(ctx, scrubberKey{}, s), s
}

// ScrubberFrom returns the Scrubber ctx carries, or nil (which scrubs
// nothing: no value is known).
func ScrubberFrom(ctx context.Context) *Scrubber {
	s, _ := ctx.Value(scrubberKey{}).(*Scrubber)
	return s
}

// matcher finds the pieces of a set of values in text. For each of the two
// canonical forms (raw: whitespace dropped; decoded: escapes undone too) it
// holds a hash of every canonical run of a value's piece length, from the
// value and from each encoding of it, and the distinct run lengths.
//
// Hashes rather than the runs keep the set small (Key Vault values reach
// 25 KB each); a collision (odds 2⁻⁶⁴ per lookup, the seed is random per
// matcher) can only cut out more text, never less.
type matcher struct {
	seed  maphash.Seed
	forms [2]gramSet
}

type gramSet struct {
	grams map[uint64]struct{}
	lens  []int
}

const (
	formRaw = iota
	formDecoded
)

func newMatcher(values []string) *matcher {
	m := &matcher{seed: maphash.MakeSeed()}
	for f := range m.forms {
		m.forms[f].grams = map[uint64]struct{}{}
	}
	for _, v := range values {
		// The piece length comes from the decoded form, or from the raw one
		// for a value the decoded form drops whole (such as "++++++++").
		basis := canonicalize(v, true)
		if len(basis.b) == 0 {
			basis = canonicalize(v, false)
		}
		if len(basis.b) == 0 {
			continue // only whitespace: nothing to find
		}
		k := pieceUnits(v, basis)
		// A value shorter than MinPiece is matched whole in every form;
		// a longer one by runs of k canonical bytes in every form (whole only
		// where a form of it is shorter than k).
		whole := utf8.RuneCountInString(v) < MinPiece
		json1 := jsonEscape(v)
		jsonPlain := jsonEscapeHTML(v, false)
		variants := []string{v, json1, jsonEscape(json1), jsonPlain, jsonEscapeHTML(jsonPlain, false), url.PathEscape(v), url.QueryEscape(v),
			url.PathEscape(url.PathEscape(v)), url.QueryEscape(url.QueryEscape(v))}
		for _, e := range variants {
			m.forms[formRaw].add(m.seed, canonicalize(e, false).b, k, whole)
		}
		for _, e := range append(variants, uEscape(v)) {
			m.forms[formDecoded].add(m.seed, canonicalize(e, true).b, k, whole)
		}
	}
	return m
}

// add adds every run of k bytes of c, or c itself when whole.
func (g *gramSet) add(seed maphash.Seed, c []byte, k int, whole bool) {
	if len(c) == 0 {
		return
	}
	if whole || len(c) <= k {
		k = len(c)
	}
	for p := 0; p+k <= len(c); p++ {
		g.grams[maphash.Bytes(seed, c[p:p+k])] = struct{}{}
	}
	if !slices.Contains(g.lens, k) {
		g.lens = append(g.lens, k)
	}
}

// pieceUnits is how many canonical bytes the scrubber matches for value v:
// the fewest that any window of MinPiece characters of v canonicalizes to,
// floored at minUnits. (For a value without whitespace or escapes, MinPiece.)
// A value shorter than MinPiece characters is matched whole.
func pieceUnits(v string, c canonical) int {
	runes := make([]int, 0, len(v)+1)
	for i := range v {
		runes = append(runes, i)
	}
	runes = append(runes, len(v))
	if len(runes)-1 < MinPiece {
		return len(c.b)
	}
	k := MinPiece
	// Units are ordered by start and by end; count those inside each window
	// [runes[i], runes[i+MinPiece]) with two moving bounds.
	lo, hi := 0, 0
	for i := 0; i+MinPiece < len(runes); i++ {
		ws, we := int32(runes[i]), int32(runes[i+MinPiece])
		for lo < len(c.b) && c.start[lo] < ws {
			lo++
		}
		for hi < len(c.b) && c.end[hi] <= we {
			hi++
		}
		k = min(k, max(hi-lo, 0))
	}
	return max(k, min(minUnits, len(c.b)))
}

// scrub cuts every match out of text.
func (m *matcher) scrub(text string) string {
	// cover[i] > 0 marks text[i] for removal (a difference array).
	var cover []int32
	mark := func(start, end int32) {
		if cover == nil {
			cover = make([]int32, len(text)+1)
		}
		cover[start]++
		cover[end]--
	}
	for f, decode := range []bool{false, true} {
		g := &m.forms[f]
		if len(g.lens) == 0 {
			continue
		}
		c := canonicalize(text, decode)
		for _, k := range g.lens {
			for p := 0; p+k <= len(c.b); p++ {
				if _, ok := g.grams[maphash.Bytes(m.seed, c.b[p:p+k])]; ok {
					mark(c.start[p], c.end[p+k-1])
				}
			}
		}
	}
	if cover == nil {
		return text
	}
	var b strings.Builder
	b.Grow(len(text))
	depth := int32(0)
	for i := 0; i < len(text); i++ {
		was := depth
		depth += cover[i]
		switch {
		case depth > 0 && was == 0:
			b.WriteString(Redacted)
		case depth == 0:
			b.WriteByte(text[i])
		}
	}
	return b.String()
}

// jsonEscape is v as the inside of a JSON string, as encoding/json writes it
// with HTML escaping (the superset of both settings' escapes).
func jsonEscape(v string) string { return jsonEscapeHTML(v, true) }

// jsonEscapeHTML is v as the inside of a JSON string, with <, >, & and the
// line separators written as \u escapes when html (encoding/json's default),
// as they are otherwise (SetEscapeHTML(false), as most services write).
func jsonEscapeHTML(v string, html bool) string {
	var b strings.Builder
	for _, r := range v {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '<', '>', '&', '\u2028', '\u2029':
			if !html {
				b.WriteRune(r)
				continue
			}
			b.WriteString(`\u` + hex4Of(r))
		default:
			if r < 0x20 {
				b.WriteString(`\u` + hex4Of(r))
			} else {
				b.WriteRune(r)
			}
		}
	}
	return b.String()
}

// uEscape is v with every character written as \uXXXX (UTF-16).
func uEscape(v string) string {
	var b strings.Builder
	for _, r := range v {
		if r == utf8.RuneError {
			b.WriteString(`\ufffd`)
			continue
		}
		if r > 0xffff {
			r1, r2 := surrogates(r)
			b.WriteString(`\u` + hex4Of(r1) + `\u` + hex4Of(r2))
			continue
		}
		b.WriteString(`\u` + hex4Of(r))
	}
	return b.String()
}

func surrogates(r rune) (rune, rune) {
	r -= 0x10000
	return 0xd800 + (r>>10)&0x3ff, 0xdc00 + r&0x3ff
}

func hex4Of(r rune) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[r>>12&0xf], digits[r>>8&0xf], digits[r>>4&0xf], digits[r&0xf]})
}
