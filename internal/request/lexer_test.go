package request

import (
	"encoding/json"
	"strings"
	"testing"
)

// lexString runs str on one JSON string.
func lexString(in string) (string, *syntaxError) {
	l := lexer{data: []byte(in)}
	if l.peek() != '"' {
		return "", &syntaxError{msg: "not a string"}
	}
	b, ok := l.str()
	if !ok {
		return "", l.err
	}
	if !l.atEnd() {
		return "", &syntaxError{msg: "trailing data"}
	}
	return string(b), nil
}

func TestLexerStrings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    string
		wantErr string
	}{
		{in: `""`, want: ""},
		{in: `"plain"`, want: "plain"},
		{in: `"é 中 🙂"`, want: "é 中 🙂"},
		{in: `"\" \\ \/ \b \f \n \r \t"`, want: "\" \\ / \b \f \n \r \t"},
		{in: `"\u00e9\u4E2D"`, want: "é中"},
		{in: `"\ud83d\ude42"`, want: "🙂"},
		{in: `"\u0000"`, want: "\x00"},
		{in: `"a\u0041b"`, want: "aAb"},
		{in: `"x\ud800"`, wantErr: "surrogate"},
		{in: `"\udc00"`, wantErr: "surrogate"},
		{in: `"\ud800\u0041"`, wantErr: "surrogate"},
		{in: `"\ud800\ud800"`, wantErr: "surrogate"},
		{in: `"\u12"`, wantErr: `\u escape needs four hexadecimal digits`},
		{in: `"\u12g4"`, wantErr: `\u escape needs four hexadecimal digits`},
		{in: `"\x"`, wantErr: "invalid escape"},
		{in: `"\'"`, wantErr: "invalid escape"},
		{in: "\"a\nb\"", wantErr: "control character"},
		{in: "\"a\\n\tb\"", wantErr: "control character"},
		{in: `"open`, wantErr: "ends early"},
		{in: `"open\`, wantErr: "ends early"},
		{in: `"open\"`, wantErr: "ends early"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := lexString(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.msg, tt.wantErr) {
					t.Fatalf("str(%s) error = %v, want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("str(%s) error = %s", tt.in, err.msg)
			}
			if got != tt.want {
				t.Errorf("str(%s) = %q, want %q", tt.in, got, tt.want)
			}
			var std string
			if err := json.Unmarshal([]byte(tt.in), &std); err != nil || std != got {
				t.Errorf("encoding/json reads %s as %q, %v; lexer %q", tt.in, std, err, got)
			}
		})
	}
}

func TestLexerValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		dup     bool
		wantErr string
	}{
		{in: `0`}, {in: `-0`}, {in: `12.5e-3`}, {in: `1E+9`}, {in: `true`}, {in: `false`}, {in: `null`},
		{in: `{}`}, {in: `[]`}, {in: ` { "a" : [ 1 , { "b" : null } ] } `},
		{in: `{"a":1,"a":2}`, dup: true},
		{in: `{"a":{"b":1,"b":2}}`, dup: true},
		{in: `[{"a":1},{"a":1}]`},
		{in: `{"\u0061":1,"a":2}`, dup: true},
		{in: `{"a":1,"A":2}`},
		{in: `01`, wantErr: "trailing"},
		{in: `-`, wantErr: "digit"},
		{in: `1.`, wantErr: "digit after"},
		{in: `.5`, wantErr: "expected true, false, null"},
		{in: `1e`, wantErr: "exponent"},
		{in: `+1`, wantErr: "expected true, false, null"},
		{in: `tru`, wantErr: "expected true, false, null"},
		{in: `nul`, wantErr: "expected true, false, null"},
		{in: `{"a" 1}`, wantErr: `":" after a member name`},
		{in: `{"a":1,}`, wantErr: "member name"},
		{in: `{"a":1 "b":2}`, wantErr: `"," or "}"`},
		{in: `{a:1}`, wantErr: "member name"},
		{in: `[1,]`, wantErr: "expected true, false, null"},
		{in: `[1 2]`, wantErr: `"," or "]"`},
		{in: `[`, wantErr: "ends early"},
		{in: `{`, wantErr: "ends early"},
		{in: `{"a":`, wantErr: "ends early"},
		{in: ``, wantErr: "ends early"},
		{in: strings.Repeat("[", 65) + strings.Repeat("]", 65), wantErr: "deeper than 64"},
		{in: strings.Repeat("[", 64) + strings.Repeat("]", 64)},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			l := lexer{data: []byte(tt.in)}
			dup := l.value(0)
			if l.err == nil && !l.atEnd() {
				l.err = &syntaxError{msg: "trailing data"}
			}
			if tt.wantErr != "" {
				if l.err == nil || !strings.Contains(l.err.msg, tt.wantErr) {
					t.Fatalf("value(%s) error = %v, want %q", tt.in, l.err, tt.wantErr)
				}
				if json.Valid([]byte(tt.in)) && !strings.Contains(tt.wantErr, "deeper") {
					t.Errorf("encoding/json accepts %s", tt.in)
				}
				return
			}
			if l.err != nil {
				t.Fatalf("value(%s) error = %s", tt.in, l.err.msg)
			}
			if dup != tt.dup {
				t.Errorf("value(%s) dup = %v, want %v", tt.in, dup, tt.dup)
			}
			if !json.Valid([]byte(tt.in)) {
				t.Errorf("encoding/json refuses %s", tt.in)
			}
		})
	}
}

func TestLexerManyMembers(t *testing.T) {
	t.Parallel()
	// Past mapNamesAfter members the duplicate check uses a map; the
	// answer must not change.
	var b strings.Builder
	b.WriteString("{")
	for i := range 100 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"m`)
		b.WriteString(strings.Repeat("x", i))
		b.WriteString(`":0`)
	}
	unique := b.String() + "}"
	for _, tt := range []struct {
		in  string
		dup bool
	}{
		{unique, false},
		{b.String() + `,"m":1}`, true},
		{b.String() + `,"m` + strings.Repeat("x", 99) + `":1}`, true},
	} {
		l := lexer{data: []byte(tt.in)}
		if dup := l.value(0); dup != tt.dup || l.err != nil {
			t.Errorf("value(%d members) = %v, %v; want %v", strings.Count(tt.in, ":"), dup, l.err, tt.dup)
		}
	}
}

func TestLineColumn(t *testing.T) {
	t.Parallel()
	data := []byte("ab\ncé\nx")
	for _, tt := range []struct{ pos, line, col int }{
		{0, 1, 1}, {2, 1, 3}, {3, 2, 1}, {6, 2, 3}, {7, 3, 1}, {99, 3, 2},
	} {
		if l, c := lineColumn(data, tt.pos); l != tt.line || c != tt.col {
			t.Errorf("lineColumn(%d) = %d:%d, want %d:%d", tt.pos, l, c, tt.line, tt.col)
		}
	}
}
