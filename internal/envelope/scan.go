package envelope

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// scanner reads one JSON text from a stream without holding it: the caller
// walks objects member by member and, for each value, keeps it (up to a
// bound) or skips it, which only counts its bytes. An envelope of any size
// is read in bounded memory this way: the host's envelope can carry a
// multi-megabyte HTTP body or a Premium-tier message of up to 100 MB, and
// only the request document (at most 64 KiB, the rest counted) and a few
// metadata scalars are ever kept.
//
// Skipped values are checked only for balance (brackets, strings); a kept
// value is decoded afterwards by encoding/json, which checks the rest.
// Errors say where and what went wrong, never what the input held: the
// envelope carries the caller's body, and these errors are logged.
type scanner struct {
	r   *bufio.Reader
	off int64 // bytes consumed, for error positions
	err error // the first read or syntax error; sticky
	// buf is copy's buffer: one per invocation, where io.Copy would
	// allocate 32 KiB for every string it copies.
	buf []byte
}

// scanBuffer is the scanner's read buffer.
const scanBuffer = 4 << 10

// scanners keeps released scanners, so that an invocation reuses the read
// and copy buffers of an earlier one instead of allocating 4.5 KiB. An
// envelope holds references, never secret values.
var scanners = sync.Pool{New: func() any {
	return &scanner{r: bufio.NewReaderSize(nil, scanBuffer), buf: make([]byte, 512)}
}}

// newScanner returns a scanner reading r; release it when done.
func newScanner(r io.Reader) *scanner {
	s := scanners.Get().(*scanner)
	s.r.Reset(r)
	return s
}

// release returns s to the pool; s must not be used after.
func (s *scanner) release() {
	s.r.Reset(nil)
	s.off, s.err = 0, nil
	scanners.Put(s)
}

// copy copies src to dst until src ends (io.EOF, which is not an error).
// Only one copy may run at a time: they share the scanner's buffer.
func (s *scanner) copy(dst io.Writer, src io.Reader) error {
	for {
		n, err := src.Read(s.buf)
		if n > 0 {
			if _, werr := dst.Write(s.buf[:n]); werr != nil {
				return werr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// ReadByte returns the next byte of the stream. The end of the stream is a
// syntax error: a JSON text never ends inside a value.
func (s *scanner) ReadByte() (byte, error) {
	if s.err != nil {
		return 0, s.err
	}
	c, err := s.r.ReadByte()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return 0, s.fail("the invocation request ends inside a JSON value")
		}
		s.err = fmt.Errorf("read invocation request: %w", err)
		return 0, s.err
	}
	s.off++
	return c, nil
}

// fail records a syntax error at the current offset.
func (s *scanner) fail(what string) error {
	if s.err == nil {
		s.err = fmt.Errorf("not valid JSON (at byte %d): %s", s.off, what)
	}
	return s.err
}

// next returns the next byte that is not white space.
func (s *scanner) next() (byte, error) {
	for {
		c, err := s.ReadByte()
		if err != nil || !isSpace(c) {
			return c, err
		}
	}
}

// peek returns the next byte that is not white space without consuming it.
func (s *scanner) peek() (byte, error) {
	for {
		if s.err != nil {
			return 0, s.err
		}
		b, err := s.r.Peek(1)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return 0, s.fail("the invocation request ends inside a JSON value")
			}
			s.err = fmt.Errorf("read invocation request: %w", err)
			return 0, s.err
		}
		if !isSpace(b[0]) {
			return b[0], nil
		}
		_, _ = s.ReadByte()
	}
}

// end checks that nothing but white space follows the JSON text.
func (s *scanner) end() error {
	for {
		if s.err != nil {
			return s.err
		}
		c, err := s.r.ReadByte()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			s.err = fmt.Errorf("read invocation request: %w", err)
			return s.err
		}
		s.off++
		if !isSpace(c) {
			return s.fail("something follows the JSON object")
		}
	}
}

// maxName bounds the member names the scanner keeps, in bytes as written:
// longer names are read and passed on as nil, which matches no name this
// package looks for.
const maxName = 256

// object reads the object whose value starts next, calling member for each
// member with its decoded name (nil when longer than maxName). member must
// consume the value, with s.value or otherwise.
func (s *scanner) object(member func(name []byte) error) error {
	c, err := s.next()
	if err != nil {
		return err
	}
	if c != '{' {
		return s.fail("an object was expected")
	}
	for first := true; ; first = false {
		c, err := s.next()
		if err != nil {
			return err
		}
		if c == '}' && first {
			return nil
		}
		if c != '"' {
			return s.fail("a member name was expected")
		}
		name := &capture{limit: maxName}
		if err := s.copy(name, s.newStringReader()); err != nil {
			return err
		}
		key := name.buf
		if name.over() {
			key = nil
		}
		if c, err := s.next(); err != nil {
			return err
		} else if c != ':' {
			return s.fail("a colon was expected after a member name")
		}
		if err := member(key); err != nil {
			return err
		}
		c, err = s.next()
		if err != nil {
			return err
		}
		switch c {
		case ',':
		case '}':
			return nil
		default:
			return s.fail("a comma or the end of the object was expected")
		}
	}
}

// maxDepth bounds how deeply the values the scanner reads may nest, as
// encoding/json bounds it: the brackets still open are remembered, and an
// envelope of nothing but "[" must not make that list as long as itself.
const maxDepth = 10000

// sink is where a kept value goes (capture, bodySink).
type sink interface {
	io.Writer
	io.ByteWriter
}

// value consumes the value that starts next and writes its JSON text to dst
// (nil: skip it). Only the balance of brackets and strings is checked.
func (s *scanner) value(dst sink) error {
	put := func(c byte) {
		if dst != nil {
			_ = dst.WriteByte(c)
		}
	}
	c, err := s.next()
	if err != nil {
		return err
	}
	var stack []byte // the closing brackets expected, at most maxDepth
	for {
		switch {
		case c == '"':
			put(c)
			if err := s.rawString(dst); err != nil {
				return err
			}
		case c == '{' || c == '[':
			if len(stack) == maxDepth {
				return s.fail("values are nested too deeply")
			}
			put(c)
			stack = append(stack, c+2) // '}' is '{'+2, ']' is '['+2
		case c == '}' || c == ']':
			if len(stack) == 0 || stack[len(stack)-1] != c {
				return s.fail("a bracket does not match")
			}
			put(c)
			stack = stack[:len(stack)-1]
		case isSpace(c) || c == ',' || c == ':':
			if len(stack) == 0 {
				return s.fail("a value was expected")
			}
			put(c)
		case isScalarByte(c):
			put(c)
			// A scalar at the top ends at the first byte that is not one
			// of its own; leave that byte for the caller.
			for {
				b, err := s.r.Peek(1)
				if err != nil || !isScalarByte(b[0]) {
					break
				}
				c, _ = s.ReadByte()
				put(c)
			}
		default:
			return s.fail("a value was expected")
		}
		if len(stack) == 0 {
			return nil
		}
		if c, err = s.ReadByte(); err != nil {
			return err
		}
	}
}

// rawString copies a string's content as written, escapes included, up to
// and including its closing quote (the opening one is consumed), to dst
// (nil: skip it).
func (s *scanner) rawString(dst sink) error {
	for escaped := false; ; {
		if !escaped && s.err == nil {
			// The common case: a run of plain bytes already buffered.
			buf, _ := s.r.Peek(s.r.Buffered())
			k := 0
			for k < len(buf) {
				if c := buf[k]; c == '"' || c == '\\' || c < 0x20 {
					break
				}
				k++
			}
			if k > 0 {
				if dst != nil {
					_, _ = dst.Write(buf[:k])
				}
				_, _ = s.r.Discard(k)
				s.off += int64(k)
				continue
			}
		}
		c, err := s.ReadByte()
		if err != nil {
			return err
		}
		if dst != nil {
			_ = dst.WriteByte(c)
		}
		switch {
		case escaped:
			escaped = false
		case c == '\\':
			escaped = true
		case c == '"':
			return nil
		case c < 0x20:
			return s.fail("a control character in a string")
		}
	}
}

func isScalarByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'E'
}

// stringReader decodes a JSON string from src, positioned after its opening
// quote, as a stream of bytes: escapes decoded as encoding/json decodes them
// (a surrogate that is not half of a pair becomes U+FFFD), and io.EOF at the
// closing quote. Bytes that are not valid UTF-8 are passed on as they are,
// for the request parser to refuse, rather than silently replaced. The end
// of src before the closing quote is an error, never io.EOF.
type stringReader struct {
	src  *bufio.Reader
	off  *int64  // counts the bytes consumed from src, when not nil
	pend [8]byte // decoded bytes not yet returned
	np   int     // len of pend in use
	ip   int     // next byte of pend to return
	high rune    // a high surrogate waiting for its pair, or 0
	done bool
	err  error
}

// errUnterminated is a JSON string without its closing quote.
var errUnterminated = errors.New("not valid JSON: a string has no closing quote")

// newStringReader returns a reader of the string s is positioned in (after
// the opening quote).
func (s *scanner) newStringReader() *stringReader {
	return &stringReader{src: s.r, off: &s.off}
}

func (r *stringReader) readByte() (byte, error) {
	c, err := r.src.ReadByte()
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = errUnterminated
		}
		return 0, err
	}
	if r.off != nil {
		*r.off++
	}
	return c, nil
}

func (r *stringReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if r.ip < r.np {
			k := copy(p[n:], r.pend[r.ip:r.np])
			n, r.ip = n+k, r.ip+k
			continue
		}
		if r.done || r.err != nil {
			break
		}
		r.ip, r.np = 0, 0
		if r.high == 0 {
			// The common case: a run of plain bytes already buffered.
			if k := plainRun(r.src, p[n:]); k > 0 {
				if r.off != nil {
					*r.off += int64(k)
				}
				n += k
				continue
			}
		}
		c, err := r.readByte()
		if err != nil {
			r.err = err
			break
		}
		switch {
		case c == '\\':
			r.escape()
		case c < 0x20:
			r.err = errors.New("not valid JSON: a control character in a string")
		default:
			r.flushHigh()
			if c == '"' {
				r.done = true
			} else {
				r.pend[r.np] = c
				r.np++
			}
		}
	}
	if n > 0 {
		return n, nil
	}
	if r.err != nil {
		return 0, r.err
	}
	return 0, io.EOF
}

// plainRun copies into p the buffered bytes of br up to the first quote,
// backslash or control character, consumes them, and returns how many.
func plainRun(br *bufio.Reader, p []byte) int {
	buf, _ := br.Peek(min(br.Buffered(), len(p)))
	k := 0
	for k < len(buf) {
		if c := buf[k]; c == '"' || c == '\\' || c < 0x20 {
			break
		}
		k++
	}
	copy(p, buf[:k])
	_, _ = br.Discard(k)
	return k
}

// flushHigh emits a waiting high surrogate, which has no pair, as U+FFFD.
func (r *stringReader) flushHigh() {
	if r.high != 0 {
		r.high = 0
		r.np += utf8.EncodeRune(r.pend[r.np:], utf8.RuneError)
	}
}

// escape decodes the escape after a backslash into pend.
func (r *stringReader) escape() {
	c, err := r.readByte()
	if err != nil {
		r.err = err
		return
	}
	var simple byte
	switch c {
	case '"', '\\', '/':
		simple = c
	case 'b':
		simple = '\b'
	case 'f':
		simple = '\f'
	case 'n':
		simple = '\n'
	case 'r':
		simple = '\r'
	case 't':
		simple = '\t'
	case 'u':
		r.unicode()
		return
	default:
		r.err = errors.New("not valid JSON: an unknown escape in a string")
		return
	}
	r.flushHigh()
	r.pend[r.np] = simple
	r.np++
}

// unicode decodes the four hexadecimal digits of a \u escape, pairing
// surrogates.
func (r *stringReader) unicode() {
	var v rune
	for range 4 {
		c, err := r.readByte()
		if err != nil {
			r.err = err
			return
		}
		d, ok := hexValue(c)
		if !ok {
			r.err = errors.New("not valid JSON: a \\u escape without four hexadecimal digits")
			return
		}
		v = v<<4 | d
	}
	if r.high != 0 {
		if dec := utf16.DecodeRune(r.high, v); dec != utf8.RuneError {
			r.high = 0
			r.np += utf8.EncodeRune(r.pend[r.np:], dec)
			return
		}
		r.flushHigh()
	}
	switch {
	case v >= 0xD800 && v < 0xDC00:
		r.high = v
	case utf16.IsSurrogate(v):
		r.np += utf8.EncodeRune(r.pend[r.np:], utf8.RuneError)
	default:
		r.np += utf8.EncodeRune(r.pend[r.np:], v)
	}
}

func hexValue(c byte) (rune, bool) {
	switch {
	case c >= '0' && c <= '9':
		return rune(c - '0'), true
	case c >= 'a' && c <= 'f':
		return rune(c-'a') + 10, true
	case c >= 'A' && c <= 'F':
		return rune(c-'A') + 10, true
	}
	return 0, false
}

// capture keeps the first limit bytes written to it and counts all of them.
type capture struct {
	buf   []byte
	limit int
	n     int64
}

func (c *capture) Write(p []byte) (int, error) {
	if room := c.limit - len(c.buf); room > 0 {
		c.buf = append(c.buf, p[:min(room, len(p))]...)
	}
	c.n += int64(len(p))
	return len(p), nil
}

func (c *capture) WriteByte(b byte) error {
	if len(c.buf) < c.limit {
		c.buf = append(c.buf, b)
	}
	c.n++
	return nil
}

// over reports whether more was written than kept.
func (c *capture) over() bool { return c.n > int64(len(c.buf)) }

// fieldNames collects the top-level member names of a JSON object text
// written to it, lower-cased, however long the text: the host copies a
// message body's top-level fields into Metadata, so every one of them must
// be known even when the body is too large to keep. Reading stops at the
// first thing that is not an object member (the names read so far stand).
type fieldNames struct {
	names map[string]bool
	state int
	depth int
	inStr bool
	esc   bool
	key   []byte
	long  bool
}

// The states of fieldNames.
const (
	fnStart = iota // before the opening brace
	fnKey          // expecting a member name or the closing brace
	fnName         // inside a member name
	fnColon        // after a member name
	fnValue        // inside a member's value
	fnDone         // the object ended, or the text is not an object
)

func (f *fieldNames) Write(p []byte) (int, error) {
	for _, c := range p {
		f.put(c)
	}
	return len(p), nil
}

func (f *fieldNames) put(c byte) {
	switch f.state {
	case fnStart:
		switch {
		case c == '{':
			f.state = fnKey
		case !isSpace(c):
			f.state = fnDone
		}
	case fnKey:
		switch {
		case c == '"':
			f.state, f.key, f.long, f.esc = fnName, f.key[:0], false, false
		case !isSpace(c):
			f.state = fnDone
		}
	case fnName:
		if !f.esc && c == '"' {
			f.record()
			f.state = fnColon
			return
		}
		f.esc = !f.esc && c == '\\'
		if len(f.key) < maxName {
			f.key = append(f.key, c)
		} else {
			f.long = true
		}
	case fnColon:
		switch {
		case c == ':':
			f.state, f.depth, f.inStr, f.esc = fnValue, 0, false, false
		case !isSpace(c):
			f.state = fnDone
		}
	case fnValue:
		switch {
		case f.inStr:
			switch {
			case f.esc:
				f.esc = false
			case c == '\\':
				f.esc = true
			case c == '"':
				f.inStr = false
			}
		case c == '"':
			f.inStr = true
		case c == '{' || c == '[':
			f.depth++
		case (c == '}' || c == ']') && f.depth > 0:
			f.depth--
		case c == '}':
			f.state = fnDone
		case c == ',' && f.depth == 0:
			f.state = fnKey
		}
	}
}

// record adds the member name just read, its escapes decoded.
func (f *fieldNames) record() {
	if f.long {
		return
	}
	name := string(f.key)
	if strings.IndexByte(name, '\\') >= 0 {
		if err := json.Unmarshal([]byte(`"`+name+`"`), &name); err != nil {
			return
		}
	}
	if f.names == nil {
		f.names = map[string]bool{}
	}
	f.names[strings.ToLower(name)] = true
}
