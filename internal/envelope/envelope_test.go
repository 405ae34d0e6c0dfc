package envelope

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/putsecrets/putsecrets/internal/request"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// goldenView is the stable rendering of a decoded envelope.
type goldenView struct {
	Kind    string       `json:"kind"`
	HTTP    *httpView    `json:"http,omitempty"`
	Message *messageView `json:"message,omitempty"`
}

type httpView struct {
	Method      string              `json:"method"`
	RedactedURL string              `json:"redactedUrl"`
	Query       map[string]string   `json:"query"`
	Headers     map[string][]string `json:"headers"`
	HasBody     bool                `json:"hasBody"`
	Body        string              `json:"body"`
}

type messageView struct {
	Body                  string                     `json:"body"`
	MessageID             string                     `json:"messageId"`
	CorrelationID         string                     `json:"correlationId"`
	ReplyTo               string                     `json:"replyTo"`
	ReplyToSessionID      string                     `json:"replyToSessionId"`
	SessionID             string                     `json:"sessionId"`
	Subject               string                     `json:"subject"`
	ContentType           string                     `json:"contentType"`
	DeliveryCount         int                        `json:"deliveryCount"`
	SequenceNumber        int64                      `json:"sequenceNumber"`
	EnqueuedTime          string                     `json:"enqueuedTime"`
	ApplicationProperties map[string]json.RawMessage `json:"applicationProperties"`
	Shadowed              []string                   `json:"shadowed"`
}

func decodeForGolden(t *testing.T, b []byte) goldenView {
	t.Helper()
	var probe struct {
		Data map[string]json.RawMessage
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		t.Fatal(err)
	}
	if _, ok := probe.Data["req"]; ok {
		r, err := DecodeHTTP(bytes.NewReader(b), "req")
		if err != nil {
			t.Fatalf("DecodeHTTP: %v", err)
		}
		return goldenView{Kind: "http", HTTP: &httpView{
			Method: r.Method, RedactedURL: r.RedactedURL(), Query: r.Query, Headers: r.Headers,
			HasBody: r.HasBody, Body: string(r.Body),
		}}
	}
	m, err := DecodeMessage(bytes.NewReader(b), "message")
	if err != nil {
		t.Fatalf("DecodeMessage: %v", err)
	}
	return goldenView{Kind: "serviceBus", Message: &messageView{
		Body: string(m.Body), MessageID: m.MessageID, CorrelationID: m.CorrelationID, ReplyTo: m.ReplyTo,
		ReplyToSessionID: m.ReplyToSessionID, SessionID: m.SessionID, Subject: m.Subject,
		ContentType: m.ContentType, DeliveryCount: m.DeliveryCount, SequenceNumber: m.SequenceNumber,
		EnqueuedTime: m.EnqueuedTime, ApplicationProperties: m.ApplicationProperties, Shadowed: m.Shadowed,
	}}
}

// TestGolden decodes every envelope under testdata (the host fixtures and our
// own cases) and compares the result with its .golden file.
func TestGolden(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/*/*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 10 {
		t.Fatalf("found %d envelopes under testdata, want the fixtures and the cases", len(files))
	}
	for _, file := range files {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			in, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.MarshalIndent(decodeForGolden(t, in), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := strings.TrimSuffix(file, ".json") + ".golden"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("decoded %s differs from %s (-want +got):\n%s", file, golden, diff)
			}
		})
	}
}

// TestBodyEncodings checks that the four encodings of the same JSON body give
// the same bytes back, and that non-JSON bodies come back as text.
func TestBodyEncodings(t *testing.T) {
	t.Parallel()
	const doc = `{"servicePrincipalId":"x","secrets":[{"key":"SyncAll","value":false}]}`
	quoted, _ := json.Marshal(doc)
	double, _ := json.Marshal(string(quoted))
	tests := []struct {
		name string
		data string
		want string
	}{
		{"double-encoded", string(double), doc},
		{"single-encoded", string(quoted), doc},
		{"object", doc, doc},
		{"binary", `"eyJzZXJ2aWNlUHJpbmNpcGFsSWQiOiJ4In0="`, `{"servicePrincipalId":"x"}`},
		{"double-encoded text", `"\"hello world\""`, "hello world"},
		{"single-encoded text", `"hello world"`, "hello world"},
		{"base64 of text stays text", `"aGVsbG8="`, "aGVsbG8="},
		{"number", `42`, `42`},
		{"null", `null`, `null`},
		{"leading space single-encoded", `"  {\"a\":1}"`, `  {"a":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := `{"Data":{"message":` + tt.data + `},"Metadata":{}}`
			m, err := DecodeMessage(strings.NewReader(env), "message")
			if err != nil {
				t.Fatal(err)
			}
			if got := string(m.Body); got != tt.want {
				t.Errorf("Body = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestMetadataReading(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		metadata string
		body     string
		want     Message
	}{
		{
			name:     "host form: JSON-encoded strings and string numbers",
			metadata: `{"MessageId":"\"m-1\"","CorrelationId":"\"c-1\"","DeliveryCount":"3","SequenceNumber":"17","Label":"\"legacy\""}`,
			body:     `"{}"`,
			want:     Message{Message: request.Message{MessageID: "m-1", CorrelationID: "c-1", DeliveryCount: 3}, SequenceNumber: 17, Subject: "legacy"},
		},
		{
			name:     "plain strings and numbers are tolerated",
			metadata: `{"MessageId":"m-1","DeliveryCount":3,"ReplyTo":"results"}`,
			body:     `"{}"`,
			want:     Message{Message: request.Message{MessageID: "m-1", DeliveryCount: 3, ReplyTo: "results"}},
		},
		{
			name:     "keys matched case-insensitively",
			metadata: `{"messageid":"\"m-1\"","replyto":"\"r\""}`,
			body:     `"{}"`,
			want:     Message{Message: request.Message{MessageID: "m-1", ReplyTo: "r"}},
		},
		{
			name:     "body fields shadow properties, which are then not trusted",
			metadata: `{"MessageId":"\"forged\"","ReplyTo":"\"attacker\"","CorrelationId":"\"c-1\""}`,
			body:     `"{\"replyTo\":\"attacker\",\"MESSAGEID\":\"forged\"}"`,
			want:     Message{Message: request.Message{CorrelationID: "c-1"}, Shadowed: []string{"MessageId", "ReplyTo"}},
		},
		{
			name:     "garbage values are ignored",
			metadata: `{"MessageId":{"x":1},"DeliveryCount":"many","ApplicationProperties":"nope"}`,
			body:     `"{}"`,
			want:     Message{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := `{"Data":{"message":` + tt.body + `},"Metadata":` + tt.metadata + `}`
			got, err := DecodeMessage(strings.NewReader(env), "message")
			if err != nil {
				t.Fatal(err)
			}
			got.Body, got.ApplicationProperties = nil, nil
			if diff := cmp.Diff(&tt.want, got); diff != "" {
				t.Errorf("DecodeMessage (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, binding string
	}{
		{"not json", `hello`, "message"},
		{"no binding", `{"Data":{},"Metadata":{}}`, "message"},
		{"wrong binding", `{"Data":{"req":{}},"Metadata":{}}`, "message"},
		{"req not an object", `{"Data":{"req":"x"},"Metadata":{}}`, "req"},
		{"bad body string", `{"Data":{"req":{"Body":"\u00"}}}`, "req"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var err error
			if tt.binding == "req" {
				_, err = DecodeHTTP(strings.NewReader(tt.in), tt.binding)
			} else {
				_, err = DecodeMessage(strings.NewReader(tt.in), tt.binding)
			}
			if err == nil {
				t.Fatal("no error")
			}
		})
	}
}

func TestWrite(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		answer Answer
		want   string
	}{
		{"empty answer never holds nulls", 200, Answer{}, `{"Outputs":{},"Logs":[],"ReturnValue":null}`},
		{"http output", 200, NewHTTPAnswer("res", HTTPOutput{StatusCode: 400, Headers: map[string]string{"Content-Type": "application/problem+json"}, Body: `{"a":"<b>"}`}, "rejected"),
			`{"Outputs":{"res":{"statusCode":400,"headers":{"Content-Type":"application/problem+json"},"body":"{\"a\":\"<b>\"}"}},"Logs":["rejected"],"ReturnValue":null}`},
		{"failed invocation", 500, Answer{Logs: []string{"failed"}}, `{"Outputs":{},"Logs":["failed"],"ReturnValue":null}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			if err := Write(rec, tt.status, tt.answer); err != nil {
				t.Fatal(err)
			}
			if rec.Code != tt.status {
				t.Errorf("status = %d, want %d", rec.Code, tt.status)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			if got := strings.TrimSpace(rec.Body.String()); got != tt.want {
				t.Errorf("body = %s\nwant   %s", got, tt.want)
			}
		})
	}
}

func TestRedactedURL(t *testing.T) {
	t.Parallel()
	r := &HTTPRequest{URL: "https://user:pw@fn.azurewebsites.net/api/PutSecrets?code=KEY#x"}
	if got, want := r.RedactedURL(), "https://fn.azurewebsites.net/api/PutSecrets"; got != want {
		t.Errorf("RedactedURL() = %q, want %q", got, want)
	}
}

// TestDecodeErrorsRepeatNoInput: encoding/json's syntax errors quote the
// offending character; the envelope's errors, which are logged, must not.
func TestDecodeErrorsRepeatNoInput(t *testing.T) {
	t.Parallel()
	const secret = "Zq"
	tests := []struct{ name, in, binding string }{
		{"syntax in Data", `{"Data":{"message":` + secret + `}}`, "message"},
		{"syntax in req", `{"Data":{"req":` + secret + `}}`, "req"},
		{"syntax in Body string", `{"Data":{"req":{"Body":"\` + secret + `"}}}`, "req"},
		{"type in req", `{"Data":{"req":{"Method":["` + secret + `"]}}}`, "req"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var err error
			if tt.binding == "req" {
				_, err = DecodeHTTP(strings.NewReader(tt.in), tt.binding)
			} else {
				_, err = DecodeMessage(strings.NewReader(tt.in), tt.binding)
			}
			if err == nil {
				t.Fatal("no error")
			}
			if strings.Contains(err.Error(), "'Z'") || strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "'q'") {
				t.Errorf("error repeats input: %v", err)
			}
		})
	}
}
