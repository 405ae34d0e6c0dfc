package envelope

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/putsecrets/putsecrets/internal/request"
)

// repeat is an io.Reader of n copies of one byte, generated as it is read:
// a test of a 100 MiB envelope holds no 100 MiB buffer either.
type repeat struct {
	c byte
	n int64
}

func (r *repeat) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	k := int(min(int64(len(p)), r.n))
	for i := range k {
		p[i] = r.c
	}
	r.n -= int64(k)
	return k, nil
}

// hugeBody describes a request document of size bytes: head, then 'x'
// padding inside a string, then tail (which may name a field).
type hugeBody struct {
	head, tail string
	pad        int64
}

func newHugeBody(size int64, tailField string) hugeBody {
	// head's length is a multiple of 3, so that base64 of the body is
	// base64(head) + "eHh4"… + base64(tail).
	head := `{"servicePrincipalId":"6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c","secrets":[{"key":"SyncAll","value":false}],"pad":"`
	for len(head)%3 != 0 {
		head = strings.Replace(head, "{", "{ ", 1)
	}
	tail := `"`
	if tailField != "" {
		tail = `","` + tailField + `":"attacker"`
	}
	pad := size - int64(len(head)+len(tail)+1)
	tail += strings.Repeat(" ", int(pad%3)) + "}" // the padding is a multiple of 3 and the size exact
	return hugeBody{head: head, tail: tail, pad: pad - pad%3}
}

func (b hugeBody) size() int64 { return int64(len(b.head)+len(b.tail)) + b.pad }

// escape returns s as the inside of a JSON string, encoded times times.
func escape(s string, times int) string {
	for range times {
		q, _ := json.Marshal(s)
		s = string(q[1 : len(q)-1])
	}
	return s
}

// data returns the Data.message (or Data.req.Body) value of the body in one
// of the host's encodings, as a stream.
func (b hugeBody) data(encoding string) io.Reader {
	var pre, post string
	var fill io.Reader = &repeat{c: 'x', n: b.pad}
	switch encoding {
	case "object":
		pre, post = b.head, b.tail
	case "single":
		pre, post = `"`+escape(b.head, 1), escape(b.tail, 1)+`"`
	case "double":
		pre, post = `"\"`+escape(b.head, 2), escape(b.tail, 2)+`\""`
	case "base64":
		pre, post = `"`+base64.StdEncoding.EncodeToString([]byte(b.head)), base64.StdEncoding.EncodeToString([]byte(b.tail))+`"`
		fill = &repeat4{n: b.pad / 3}
	default:
		panic(encoding)
	}
	return io.MultiReader(strings.NewReader(pre), fill, strings.NewReader(post))
}

// repeat4 is n copies of "eHh4", base64 of "xxx".
type repeat4 struct{ n, at int64 }

func (r *repeat4) Read(p []byte) (int, error) {
	k := 0
	for k < len(p) && r.at < 4*r.n {
		p[k] = "eHh4"[r.at%4]
		k, r.at = k+1, r.at+1
	}
	if k == 0 {
		return 0, io.EOF
	}
	return k, nil
}

const hostMetadata = `"Metadata":{"MessageReceiver":{},"DeliveryCount":"2","MessageId":"\"m-big\"","ReplyTo":"\"results\"",` +
	`"CorrelationId":"\"run-7\"","ReplyToSessionId":"\"s-1\"","secrets":"[…]","sys":{"MethodName":"PutSecretsFromQueue"}}`

// messageEnvelope streams a Service Bus envelope around data, with Metadata
// before or after Data.
func messageEnvelope(data io.Reader, metadataFirst bool) io.Reader {
	if metadataFirst {
		return io.MultiReader(strings.NewReader(`{`+hostMetadata+`,"Data":{"message":`), data, strings.NewReader(`}}`))
	}
	return io.MultiReader(strings.NewReader(`{"Data":{"message":`), data, strings.NewReader(`},`+hostMetadata+`}`))
}

// httpEnvelope streams an HTTP envelope whose Body is data.
func httpEnvelope(data io.Reader, metadataFirst bool) io.Reader {
	req := `"req":{"Url":"https://fn.azurewebsites.net/api/PutSecrets?code=k","Method":"POST","Query":{"code":"k"},` +
		`"Headers":{"Content-Type":["application/json"]},"Params":{},"Identities":[],"Body":`
	md := `"Metadata":{"Query":{},"Headers":{"Content-Type":"application/json"},"pad":"` + strings.Repeat("m", 1000) + `"}`
	if metadataFirst {
		return io.MultiReader(strings.NewReader(`{`+md+`,"Data":{`+req), data, strings.NewReader(`}}}`))
	}
	return io.MultiReader(strings.NewReader(`{"Data":{`+req), data, strings.NewReader(`}},`+md+`}`))
}

var hugeSizes = []struct {
	name string
	size int64
}{
	{"1.1MiB", 11 << 20 / 10},
	{"5MiB", 5 << 20},
	{"100MiB", 100 << 20},
}

// TestHugeMessageBodies: a body of any size in any of the host's encodings,
// with the properties before or after it, comes back cut at one byte over
// the request limit (so the request parser refuses it as too large), with
// the properties that route the outcome, and with every top-level field of
// the body known, including one after 100 MiB of padding.
func TestHugeMessageBodies(t *testing.T) {
	t.Parallel()
	for _, sz := range hugeSizes {
		for _, enc := range []string{"object", "single", "double", "base64"} {
			for _, first := range []bool{false, true} {
				for _, forged := range []string{"", "replyTo"} {
					if sz.size > 5<<20 && (enc != "double" || forged != "" && first) {
						continue // 100 MiB in the host's own encoding only: the others count the same way at 5 MiB
					}
					name := fmt.Sprintf("%s/%s/metadataFirst=%v/forged=%q", sz.name, enc, first, forged)
					t.Run(name, func(t *testing.T) {
						t.Parallel()
						b := newHugeBody(sz.size, forged)
						m, err := DecodeMessage(messageEnvelope(b.data(enc), first), "message")
						if err != nil {
							t.Fatal(err)
						}
						if len(m.Body) != maxBody || !strings.HasPrefix(string(m.Body), b.head) {
							t.Errorf("kept %d bytes starting %.20q, want the first %d of the body", len(m.Body), m.Body, maxBody)
						}
						if _, err := request.Parse(m.Body, nil); err == nil || !strings.Contains(err.Error(), "larger than 65536 bytes") {
							t.Errorf("Parse(kept body) = %v, want the too-large refusal", err)
						}
						want := Message{Message: request.Message{MessageID: "m-big", CorrelationID: "run-7", ReplyTo: "results", ReplyToSessionID: "s-1", DeliveryCount: 2}}
						if forged != "" {
							want.ReplyTo, want.Shadowed = "", []string{keyReplyTo}
						}
						got := Message{Message: request.Message{MessageID: m.MessageID, CorrelationID: m.CorrelationID, ReplyTo: m.ReplyTo,
							ReplyToSessionID: m.ReplyToSessionID, DeliveryCount: m.DeliveryCount}, Shadowed: m.Shadowed}
						if fmt.Sprint(got) != fmt.Sprint(want) {
							t.Errorf("properties = %+v, want %+v", got, want)
						}
					})
				}
			}
		}
	}
}

// TestHugeHTTPBodies: the same for HTTP envelopes, whose body is a string.
func TestHugeHTTPBodies(t *testing.T) {
	t.Parallel()
	for _, sz := range hugeSizes {
		for _, first := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/metadataFirst=%v", sz.name, first), func(t *testing.T) {
				t.Parallel()
				b := newHugeBody(sz.size, "")
				r, err := DecodeHTTP(httpEnvelope(b.data("single"), first), "req")
				if err != nil {
					t.Fatal(err)
				}
				if !r.HasBody || len(r.Body) != maxBody || r.Method != "POST" || r.Headers.Get("Content-Type") != "application/json" {
					t.Errorf("HasBody %v, %d bytes kept, method %q, headers %v", r.HasBody, len(r.Body), r.Method, r.Headers)
				}
			})
		}
	}
}

// TestBodyAtTheLimit: in each encoding, a body of up to one byte over
// request.MaxBodyBytes is kept whole (the parser refuses the one over), and a
// longer one is cut there.
func TestBodyAtTheLimit(t *testing.T) {
	t.Parallel()
	for _, enc := range []string{"object", "single", "double", "base64"} {
		for _, size := range []int64{request.MaxBodyBytes - 1, request.MaxBodyBytes, request.MaxBodyBytes + 1, request.MaxBodyBytes + 2} {
			b := newHugeBody(size, "")
			if b.size() != size {
				t.Fatalf("body of %d bytes, want %d", b.size(), size)
			}
			m, err := DecodeMessage(messageEnvelope(b.data(enc), false), "message")
			if err != nil {
				t.Fatal(err)
			}
			if want := min(size, maxBody); int64(len(m.Body)) != want {
				t.Errorf("%s body of %d bytes: kept %d, want %d", enc, size, len(m.Body), want)
			}
		}
	}
}

// TestHugeEnvelopeMemory: decoding a 100 MiB envelope allocates a bounded
// amount, not the envelope's size.
func TestHugeEnvelopeMemory(t *testing.T) {
	const bound = 4 << 20 // generous: the kept body is 64 KiB, the read buffer 4 KiB
	for _, enc := range []string{"double"} {
		b := newHugeBody(100<<20, "")
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		if _, err := DecodeMessage(messageEnvelope(b.data(enc), false), "message"); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		if got := after.TotalAlloc - before.TotalAlloc; got > bound {
			t.Errorf("%s: decoding a 100 MiB envelope allocated %d bytes, want at most %d", enc, got, bound)
		}
	}
	b := newHugeBody(100<<20, "")
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if _, err := DecodeHTTP(httpEnvelope(b.data("single"), true), "req"); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > bound {
		t.Errorf("http: decoding a 100 MiB envelope allocated %d bytes, want at most %d", got, bound)
	}
}

// TestDeepNesting: an envelope of 100 MiB of "[" is refused in bounded
// memory: the scanner remembers at most maxDepth open brackets.
func TestDeepNesting(t *testing.T) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	env := io.MultiReader(strings.NewReader(`{"Metadata":{"x":`), &repeat{c: '[', n: 100 << 20})
	_, err := DecodeMessage(env, "message")
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "nested too deeply") {
		t.Errorf("DecodeMessage(deep nesting) = %v, want the nesting refused", err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
		t.Errorf("refusing deep nesting allocated %d bytes", got)
	}
	ok := `{"Data":{"message":` + strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth) + `}}`
	if _, err := DecodeMessage(strings.NewReader(ok), "message"); err != nil {
		t.Errorf("nesting of exactly maxDepth: %v", err)
	}
}

// TestSmallEnvelopeMemory: an ordinary invocation's envelope costs a few
// KiB to decode, not a buffer per string.
func TestSmallEnvelopeMemory(t *testing.T) {
	for _, name := range []string{"http-request-post-json", "sb-request-json-body", "sb-request-json-body-datatype-binary"} {
		raw, err := os.ReadFile(filepath.Join("testdata", "host", name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		const runs, bound = 100, 32 << 10
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for range runs {
			var err error
			if strings.HasPrefix(name, "http") {
				_, err = DecodeHTTP(bytes.NewReader(raw), "req")
			} else {
				_, err = DecodeMessage(bytes.NewReader(raw), "message")
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		runtime.ReadMemStats(&after)
		if per := (after.TotalAlloc - before.TotalAlloc) / runs; per > bound {
			t.Errorf("%s: %d bytes allocated per decode, want at most %d", name, per, bound)
		}
	}
}
