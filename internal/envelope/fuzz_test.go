package envelope

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func seedEnvelopes(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*.json")
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzDecodeMessage: any input either fails cleanly or yields a message whose
// shadowed properties are empty.
func FuzzDecodeMessage(f *testing.F) {
	seedEnvelopes(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMessage(bytes.NewReader(b), "message")
		if err != nil {
			return
		}
		for _, k := range m.Shadowed {
			if (k == keyReplyTo && m.ReplyTo != "") || (k == keyMessageID && m.MessageID != "") {
				t.Fatalf("shadowed %s still read", k)
			}
		}
		if m.DeliveryCount < 0 && m.DeliveryCount != int(int64(m.DeliveryCount)) {
			t.Fatal("delivery count overflow")
		}
	})
}

// FuzzDecodeHTTP: any input either fails cleanly or yields a request whose
// body is present exactly when HasBody says so.
func FuzzDecodeHTTP(f *testing.F) {
	seedEnvelopes(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeHTTP(bytes.NewReader(b), "req")
		if err != nil {
			return
		}
		if !r.HasBody && len(r.Body) != 0 {
			t.Fatal("body without HasBody")
		}
		_ = r.RedactedURL()
	})
}

// FuzzMessageBody: a JSON object body survives any of the host's encodings
// (object, single- and double-encoded string, base64) byte for byte, and its
// top-level field names are known whichever encoding carried it. Only the
// object form loses the space around it, which belongs to the envelope. A
// body that is not valid UTF-8 comes back as it was sent (the request parser
// refuses it), never with bytes replaced.
func FuzzMessageBody(f *testing.F) {
	f.Add(`{"servicePrincipalId":"6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c","secrets":[]}`)
	f.Add(`{"a":"\"quoted\"","b":"\u2028"}`)
	f.Add(`{"Reply\u0054o":"x","n":{"ReplyTo":1}}`)
	f.Fuzz(func(t *testing.T, s string) {
		var obj map[string]json.RawMessage
		if json.Unmarshal([]byte(s), &obj) != nil || len(s) == 0 || s[0] != '{' || len(s) > maxBody-1 {
			return
		}
		var want []string
		for k := range obj {
			want = append(want, strings.ToLower(k))
		}
		slices.Sort(want)
		want = slices.Compact(want)
		decode := func(data []byte) *Message {
			t.Helper()
			m, err := DecodeMessage(bytes.NewReader([]byte(`{"Data":{"message":`+string(data)+`}}`)), "message")
			if err != nil {
				t.Fatalf("DecodeMessage(%s): %v", data, err)
			}
			var got []string
			for k := range shadowFields(t, data) {
				got = append(got, k)
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Fatalf("fields of %s = %q, want %q", data, got, want)
			}
			return m
		}
		if got, want := string(decode([]byte(s)).Body), string(trimSpace([]byte(s))); got != want {
			t.Fatalf("object body %s = %q, want %q", s, got, want)
		}
		if got := string(decode([]byte(`"` + base64.StdEncoding.EncodeToString([]byte(s)) + `"`)).Body); got != s {
			t.Fatalf("base64 body = %q, want %q", got, s)
		}
		if !utf8.ValidString(s) {
			return
		}
		single, _ := json.Marshal(s)
		double, _ := json.Marshal(string(single))
		for _, data := range [][]byte{single, double} {
			if got := string(decode(data).Body); got != s {
				t.Fatalf("body %s = %q, want %q", data, got, s)
			}
		}
	})
}

// shadowFields returns the body field names DecodeMessage found for the
// value data of Data.message.
func shadowFields(t *testing.T, data []byte) map[string]bool {
	t.Helper()
	body, err := readMessageBody(newScanner(bytes.NewReader(data)))
	if err != nil {
		t.Fatalf("readMessageBody(%s): %v", data, err)
	}
	return body.fields.names
}

// FuzzScanner: on any valid JSON text the scanner agrees with encoding/json:
// value keeps the text as written, a string decodes to what json.Unmarshal
// gives (for valid UTF-8; the scanner keeps other bytes as sent), and
// object sees every member name. On any input it fails cleanly.
func FuzzScanner(f *testing.F) {
	for _, s := range []string{`{"a":1,"b":[true,null,"x\"y"]}`, `"\ud83d\ude00\ud800x\udc00"`, `-1.5e+3`, `[{},[],""]`, `{"A\u0062":{"c":"d"}}`} {
		f.Add([]byte(s))
	}
	seedEnvelopes(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		keep := &capture{limit: len(b) + 1}
		err := newScanner(bytes.NewReader(b)).value(keep)
		if !json.Valid(b) {
			return
		}
		if err != nil {
			t.Fatalf("value(%q): %v", b, err)
		}
		if got, want := string(keep.buf), string(trimSpace(b)); got != want {
			t.Fatalf("value kept %q, want %q", got, want)
		}
		t0 := trimSpace(b)
		if t0[0] == '"' && utf8.Valid(b) {
			var want string
			_ = json.Unmarshal(b, &want)
			got, err := io.ReadAll(newScanner(bytes.NewReader(t0[1:])).newStringReader())
			if err != nil || string(got) != want {
				t.Fatalf("string %q decoded to %q (%v), want %q", b, got, err, want)
			}
		}
		if t0[0] == '{' && utf8.Valid(b) {
			var obj map[string]json.RawMessage
			if json.Unmarshal(b, &obj) != nil {
				return
			}
			seen := map[string]bool{}
			s2 := newScanner(bytes.NewReader(b))
			err := s2.object(func(name []byte) error {
				seen[string(name)] = true
				return s2.value(nil)
			})
			if err != nil {
				t.Fatalf("object(%q): %v", b, err)
			}
			for k := range obj {
				if len(k) <= maxName && !seen[k] {
					t.Fatalf("object(%q) did not see member %q", b, k)
				}
			}
		}
	})
}
