package envelope

import (
	"encoding/json"
	"os"
	"path/filepath"
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
		m, err := DecodeMessage(b, "message")
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
		r, err := DecodeHTTP(b, "req")
		if err != nil {
			return
		}
		if !r.HasBody && len(r.Body) != 0 {
			t.Fatal("body without HasBody")
		}
		_ = r.RedactedURL()
	})
}

// FuzzUnwrapBody: a JSON object body survives any of the host's encodings.
// Only the object form can carry invalid UTF-8: encoding a body as a JSON
// string (the host's single and double encodings) replaces bad bytes with
// U+FFFD, as .NET's strings do, and the request parser refuses such a body
// anyway (testdata/fuzz/FuzzUnwrapBody holds the case); and the object form
// loses the space around it, which belongs to the envelope.
func FuzzUnwrapBody(f *testing.F) {
	f.Add(`{"servicePrincipalId":"6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c","secrets":[]}`)
	f.Add(`{"a":"\"quoted\"","b":"\u2028"}`)
	f.Fuzz(func(t *testing.T, s string) {
		var obj map[string]json.RawMessage
		if json.Unmarshal([]byte(s), &obj) != nil || len(s) == 0 || s[0] != '{' {
			return
		}
		// As an object the body is a JSON value inside the envelope, where
		// the space around it is the envelope's, not the body's.
		if got, want := string(unwrapBody([]byte(s))), string(trimSpace([]byte(s))); got != want {
			t.Fatalf("unwrapBody(%s) = %q, want %q", s, got, want)
		}
		if !utf8.ValidString(s) {
			return
		}
		single, _ := json.Marshal(s)
		double, _ := json.Marshal(string(single))
		for _, data := range [][]byte{single, double} {
			if got := string(unwrapBody(data)); got != s {
				t.Fatalf("unwrapBody(%s) = %q, want %q", data, got, s)
			}
		}
	})
}
