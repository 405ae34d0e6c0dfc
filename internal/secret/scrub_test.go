package secret

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"
)

// The test oracle below is independent of the scrubber: it renders pieces of
// a value with the standard library's encoders (or a two-line loop) and looks
// for them byte for byte.

// encodings are the ways a message may quote a piece of a value.
var encodings = []struct {
	name string
	enc  func(string) string
}{
	{"plain", func(s string) string { return s }},
	{"json", jsonInner},
	{"json twice", func(s string) string { return jsonInner(jsonInner(s)) }},
	{"json html-safe", func(s string) string { b, _ := json.Marshal(s); return string(b[1 : len(b)-1]) }},
	{"all \\u", func(s string) string { return uAll(s, 1) }},
	{"every other \\u", func(s string) string { return uAll(s, 2) }},
	{"\\u upper hex", func(s string) string { return uAllUpper(s) }},
	{"\\u doubled", func(s string) string { return strings.ReplaceAll(uAll(s, 1), `\u`, `\\u`) }},
	{"percent path", url.PathEscape},
	{"percent query", url.QueryEscape},
	{"percent all lower", func(s string) string { return pctAll(s, "%%%02x") }},
	{"percent all upper", func(s string) string { return pctAll(s, "%%%02X") }},
	{"percent twice", func(s string) string { return url.QueryEscape(url.QueryEscape(s)) }},
	{"percent path twice", func(s string) string { return url.PathEscape(url.PathEscape(s)) }},
	{"go quote ascii", func(s string) string { q := strconv.QuoteToASCII(s); return q[1 : len(q)-1] }},
	{"\\U and \\x", func(s string) string { return uxAll(s) }},
	{"crlf", func(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }},
	{"lf", func(s string) string { return strings.ReplaceAll(s, "\r\n", "\n") }},
	{"folded spacing", func(s string) string { return strings.Join(strings.Fields(s), " ") }},
	{"doubled spacing", func(s string) string { return strings.ReplaceAll(s, " ", "  \t") }},
	{"wrapped", func(s string) string { return wrap(s, 5) }},
}

func jsonInner(s string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	out := strings.TrimSpace(b.String())
	return out[1 : len(out)-1]
}

// uAll writes every n-th character as \uXXXX.
func uAll(s string, n int) string {
	var b strings.Builder
	for i, r := range []rune(s) {
		if i%n != 0 {
			b.WriteRune(r)
			continue
		}
		for _, u := range utf16.Encode([]rune{r}) {
			fmt.Fprintf(&b, `\u%04x`, u)
		}
	}
	return b.String()
}

// uxAll writes ASCII as \xXX and every other character as \UXXXXXXXX, as
// C, Python and Go quote them.
func uxAll(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 0x80 {
			fmt.Fprintf(&b, `\x%02x`, r)
			continue
		}
		fmt.Fprintf(&b, `\U%08X`, r)
	}
	return b.String()
}

func uAllUpper(s string) string {
	var b strings.Builder
	for _, u := range utf16.Encode([]rune(s)) {
		fmt.Fprintf(&b, `\u%04X`, u)
	}
	return b.String()
}

func pctAll(s, format string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		fmt.Fprintf(&b, format, s[i])
	}
	return b.String()
}

func wrap(s string, n int) string {
	var b strings.Builder
	for i, r := range []rune(s) {
		if i > 0 && i%n == 0 {
			b.WriteString("\r\n ")
		}
		b.WriteRune(r)
	}
	return b.String()
}

// windows returns every piece of MinPiece characters of v that holds at
// least minUnits bytes other than whitespace, backslashes and plus signs
// (the documented floor), or v itself when it is shorter.
func windows(v string) []string {
	r := []rune(v)
	if len(r) < MinPiece {
		return []string{v}
	}
	noWeight := strings.NewReplacer(`\`, " ", "+", " ")
	var out []string
	for i := 0; i+MinPiece <= len(r); i++ {
		w := string(r[i : i+MinPiece])
		if len(strings.Join(strings.Fields(noWeight.Replace(w)), "")) >= minUnits {
			out = append(out, w)
		}
	}
	return out
}

// leak returns the encoding and a description of the first piece of v
// (any encoding) that out still holds, or "".
func leak(out, v string) string {
	for _, w := range windows(v) {
		for _, e := range encodings {
			if p := e.enc(w); p != "" && strings.Contains(out, p) {
				return fmt.Sprintf("%s piece at %d", e.name, strings.Index(out, p))
			}
		}
	}
	return ""
}

func TestScrubRemovesPieces(t *testing.T) {
	t.Parallel()
	const token = "eyJhbGciOiJSUzI1NiJ9.c2VjcmV0LXRva2VuLXZhbHVl.Zm9vYmFy-_x"
	values := []struct {
		name string
		v    string
	}{
		{"token", token},
		{"url", "https://scim.example.com/scim/v2?tenant=contoso&x=1"},
		{"json object", `{"Enabled":true,"Recipients":"ops@example.com","Threshold":50}`},
		{"quotes and backslashes", `pa"ss\wo'rd<>&\n\u0041%41-long-enough`},
		{"pem", "-----BEGIN KEY-----\nMIIBVwIBADANBgkqhkiG9w0B\nAQEFAASCAUEwggE9AgEAAkEA\n-----END KEY-----\n"},
		{"spaces", "correct horse battery staple and more words"},
		{"unicode", "пароль-秘密-🔑-contraseña-sécurité"},
		{"astral every few", "emoji😀secret😀value😀xyz123😀more"},
		{"connection string", "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=abc+/=="},
	}
	contexts := []struct {
		name string
		wrap func(piece string) string
	}{
		{"alone", func(p string) string { return p }},
		{"in a sentence", func(p string) string { return "401 for Authorization: Bearer " + p + " at the target." }},
		{"after a backslash", func(p string) string { return `path C:\` + p + `\end` }},
		{"after a percent", func(p string) string { return "100%" + p + "%" }},
		{"glued", func(p string) string { return "xx" + p + "yy" }},
	}
	for _, val := range values {
		for _, e := range encodings {
			for _, cut := range []struct {
				name string
				of   func(string) string
			}{
				{"whole", func(s string) string { return s }},
				{"prefix", func(s string) string { r := []rune(s); return string(r[:min(len(r), MinPiece+1)]) }},
				{"suffix", func(s string) string { r := []rune(s); return string(r[max(0, len(r)-MinPiece-2):]) }},
				{"middle", func(s string) string { r := []rune(s); return string(r[3:min(len(r), 3+MinPiece+4)]) }},
			} {
				for _, c := range contexts {
					name := strings.Join([]string{val.name, e.name, cut.name, c.name}, "/")
					piece := cut.of(val.v)
					msg := c.wrap(e.enc(piece))
					s := NewScrubber(New(val.v))
					got := s.Scrub(msg)
					if l := leak(got, piece); l != "" {
						t.Errorf("%s: the scrubbed message still holds a %s", name, l)
					}
					if !strings.Contains(got, Redacted) {
						t.Errorf("%s: nothing was redacted", name)
					}
				}
			}
		}
	}
}

func TestScrubKeepsUnrelatedText(t *testing.T) {
	t.Parallel()
	s := NewScrubber(New("canary-0123456789abcdef0123"), New("false"), New("https://scim.example.com/scim/v2"))
	tests := []struct{ in, want string }{
		{"", ""},
		{"nothing to see", "nothing to see"},
		// 11 characters of the value: below MinPiece, kept.
		{"id canary-0123 and 456789abcde", "id canary-0123 and 456789abcde"},
		{"got canary-0123456789ab!", "got " + Redacted + "!"},
		{"SyncAll false", "SyncAll " + Redacted},
		// The trade-off: an unrelated run that equals 12 characters of a
		// value is cut too.
		{"Visit https://scim.example.org/", "Visit " + Redacted + "org/"},
		{"Visit https://www.contoso.org/", "Visit https://www.contoso.org/"},
		{`{"error":"bad \u0063anary-0123456789abcdef0123 x"}`, `{"error":"bad ` + Redacted + ` x"}`},
		{"the request-id 6a9b2c1e-5f4d", "the request-id 6a9b2c1e-5f4d"},
		// \u- and percent-escapes mixed in one run.
		{`x \u0063%61nary-0123456789abcdef0123`, "x " + Redacted},
	}
	for _, tt := range tests {
		if got := s.Scrub(tt.in); got != tt.want {
			// Both texts are test data built to show what is kept; a failure
			// shows them only where they hold no piece of a value.
			t.Errorf("Scrub(%s) = %s, want %s", withheld(tt.in, s), withheld(got, s), withheld(tt.want, s))
		}
	}
}

// withheld is text quoted for a failure message, or only its length when s
// would cut something out of it.
func withheld(text string, s *Scrubber) string {
	if s.Scrub(text) != text {
		return fmt.Sprintf("<%d bytes withheld>", len(text))
	}
	return fmt.Sprintf("%q", text)
}

func TestScrubShortValuesWhole(t *testing.T) {
	t.Parallel()
	s := NewScrubber(New("pw-Ab3$x"), New("50"))
	for _, in := range []string{"pw-Ab3$x", `pw-Ab3\u0024x`, "pw-Ab3%24x", "pw-\r\nAb3$x"} {
		if got := s.Scrub("value " + in + " refused"); got != "value "+Redacted+" refused" {
			t.Errorf("a short value quoted as %s was not cut whole: %s", withheld(in, s), withheld(got, s))
		}
	}
	if got := s.Scrub("pw-Ab3 alone"); got != "pw-Ab3 alone" {
		t.Errorf("a part of a short value was cut: %s", withheld(got, s))
	}
}

func TestScrubberNilAndEmpty(t *testing.T) {
	t.Parallel()
	var nilS *Scrubber
	if got := nilS.Scrub("text"); got != "text" {
		t.Errorf("nil Scrub = %q", got)
	}
	s := NewScrubber(New(""), New("  \n"))
	if got := s.Scrub("text \n"); got != "text \n" {
		t.Errorf("empty values changed the text: %q", got)
	}
	if nilS.Wrap(nil) != nil || s.Wrap(nil) != nil {
		t.Error("Wrap(nil) is not nil")
	}
}

func TestScrubberAddLater(t *testing.T) {
	t.Parallel()
	ctx, s := WithScrubber(context.Background())
	if ctx2, s2 := WithScrubber(ctx); s2 != s || ScrubberFrom(ctx2) != s {
		t.Fatal("WithScrubber made a second scrubber for a context that has one")
	}
	if ScrubberFrom(context.Background()) != nil {
		t.Fatal("a bare context has a scrubber")
	}
	const v = "late-value-0123456789"
	if got := s.Scrub("x " + v); got != "x "+v {
		t.Fatal("scrubbed before the value was known")
	}
	s.Add(New(v))
	if got := s.Scrub("x " + v); got != "x "+Redacted {
		t.Fatalf("after Add: %d bytes, want %q", len(got), "x "+Redacted)
	}
}

func TestWrap(t *testing.T) {
	t.Parallel()
	const v = "wrapped-secret-0123456789"
	s := NewScrubber(New(v))
	base := errors.New("target said: " + url.QueryEscape(v))
	err := s.Wrap(fmt.Errorf("start job: %w", base))
	if strings.Contains(err.Error(), "0123456789") || !strings.Contains(err.Error(), Redacted) {
		t.Errorf("Error() (%d bytes) is not scrubbed", len(err.Error()))
	}
	if !errors.Is(err, base) {
		t.Error("errors.Is does not see through Wrap")
	}
	if ScrubberOf(err) != s || ScrubberOf(base) != nil {
		t.Error("ScrubberOf")
	}
	if s.Wrap(err) != err {
		t.Error("wrapping twice with one scrubber nests")
	}
}

// TestCanonicalSpans: every canonical byte points at the text it came from.
func TestCanonicalSpans(t *testing.T) {
	t.Parallel()
	in := `a \u00e9%41\\\"b` + "\r\n" + `\ud83d\ude00`
	c := canonicalize(in, true)
	if got, want := string(c.b), `aéA"b😀`; got != want {
		t.Fatalf("canonical = %q, want %q", got, want)
	}
	for i := range c.b {
		if c.start[i] >= c.end[i] || int(c.end[i]) > len(in) || (i > 0 && c.start[i] < c.start[i-1]) {
			t.Fatalf("span %d = [%d,%d)", i, c.start[i], c.end[i])
		}
	}
	if got := string(canonicalize(in, false).b); got != `a\u00e9%41\\\"b\ud83d\ude00` {
		t.Errorf("raw canonical = %q", got)
	}
}

var fuzzRedacted = regexp.MustCompile(regexp.QuoteMeta(Redacted))

// FuzzScrub: whatever the value, the piece, the encoding and the text
// around it, the scrubbed message holds no piece of MinPiece characters of
// the value in any encoding.
func FuzzScrub(f *testing.F) {
	f.Add("canary-0123456789abcdef", 0, 23, uint8(0), "401 Bearer ", " refused")
	f.Add("correct horse battery staple", 3, 20, uint8(4), `\`, "")
	f.Add(`p"a\ss/wo<rd>&long-value`, 1, 18, uint8(8), "%", "%4")
	f.Add("пароль-秘密-🔑-contraseña", 2, 15, uint8(1), "", "")
	f.Fuzz(func(t *testing.T, raw string, from, length int, encoding uint8, pre, suf string) {
		v := fuzzValue(raw)
		r := []rune(v)
		if len(r) < MinPiece || len(r) > 512 {
			return
		}
		from = abs(from) % len(r)
		length = MinPiece + abs(length)%(len(r)-MinPiece+1)
		if from+length > len(r) {
			from = len(r) - length
		}
		piece := string(r[from : from+length])
		e := encodings[int(encoding)%len(encodings)]
		msg := pre + e.enc(piece) + suf
		got := NewScrubber(New(v)).Scrub(msg)
		// What is checked is the piece as the message quoted it: text the
		// fuzzer put around it could itself hold other pieces.
		rest := fuzzRedacted.ReplaceAllString(got, "\x00")
		for _, w := range windows(piece) {
			if p := e.enc(w); p != "" && strings.Contains(rest, p) && !strings.Contains(pre+suf, p) {
				// The input is in testdata/fuzz; test output shows no value.
				t.Fatalf("a %d-byte %s piece of the %d-byte value survived at byte %d of the scrubbed message", len(p), e.name, len(v), strings.Index(rest, p))
			}
		}
	})
}

// fuzzValue maps fuzz input to a value of printable ASCII (but backslash and
// percent, whose escapes inside the value itself the floor of minUnits
// covers: see TestScrubRemovesPieces), whitespace and a few multi-byte
// characters.
func fuzzValue(raw string) string {
	extra := []rune{' ', '\n', '\r', '\t', 'é', '秘', '🔑', '"', '<', '&'}
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c >= 0x21 && c <= 0x7e && c != '\\' && c != '%':
			b.WriteByte(c)
		default:
			b.WriteRune(extra[int(c)%len(extra)])
		}
	}
	return b.String()
}

func abs(n int) int {
	if n < 0 {
		if n == -n { // math.MinInt
			return 0
		}
		return -n
	}
	return n
}

func BenchmarkScrub(b *testing.B) {
	value := strings.Repeat("k3Y-v4lue/", 410)[:4096] // a 4 KiB value
	msg := strings.Repeat("The target answered 401 Unauthorized for the request; nothing quoted here. ", 900)[:64<<10]
	msg = msg[:30000] + `Bearer \u006b3Y-v4lue%2Fk3Y` + msg[30000+27:]
	for _, bc := range []struct {
		name   string
		values []Value
	}{
		{"one 4KiB value", []Value{New(value)}},
		{"64 values of 64 bytes", func() []Value {
			vs := make([]Value, 64)
			for i := range vs {
				vs[i] = New(fmt.Sprintf("value-%02d-%s", i, strings.Repeat("x0y1z2", 10)))
			}
			return vs
		}()},
	} {
		b.Run(bc.name+"/64KiB message", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(msg)))
			for b.Loop() {
				// A new scrubber each time: an invocation builds its matcher once.
				_ = NewScrubber(bc.values...).Scrub(msg)
			}
		})
	}
}
