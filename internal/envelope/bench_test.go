package envelope

import (
	"bytes"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// The benchmarks decode envelopes the real Functions host sent (testdata/host):
// the first thing the handler does with every invocation.

func BenchmarkDecodeHTTP(b *testing.B) {
	raw, err := os.ReadFile(filepath.Join("testdata", "host", "http-request-post-json.json"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := DecodeHTTP(bytes.NewReader(raw), "req"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeMessage(b *testing.B) {
	for _, name := range []string{"sb-request-json-body", "sb-request-json-body-datatype-binary"} {
		raw, err := os.ReadFile(filepath.Join("testdata", "host", name+".json"))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				if _, err := DecodeMessage(bytes.NewReader(raw), "message"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkWrite encodes an HTTP function's answer, as the handler does for
// every HTTP invocation.
func BenchmarkWrite(b *testing.B) {
	a := NewHTTPAnswer("res", HTTPOutput{
		StatusCode: 200,
		Headers:    map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store"},
		Body: `{"servicePrincipalId":"6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c","status":"saved","apiVersion":"v1.0",` +
			`"keys":["SecretToken","Password","ClientSecret"],"graphRequestId":"0c8d1f36-1d7b-4d6e-9a1e-2f2b7c3a9d10","durationMs":41}`,
	}, "PutSecrets 200 servicePrincipal=6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c keys=SecretToken,Password,ClientSecret: saved")
	b.ReportAllocs()
	for b.Loop() {
		if err := Write(httptest.NewRecorder(), 200, a); err != nil {
			b.Fatal(err)
		}
	}
}
