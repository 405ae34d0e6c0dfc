package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/putsecrets/putsecrets/internal/secret"
)

// Error bodies as Graph and the synchronization service send them.
var errorBodies = map[string]string{
	"sync service JSON in message": `{"error":{"code":"UnknownError","message":"{\"Message\":\"The notification settings are not valid.\",\"Code\":\"InvalidNotificationSettings\",\"Target\":null,\"Details\":null,\"InnerError\":null,\"InstanceAnnotations\":[]}","innerError":{"date":"2025-05-14T09:31:07","request-id":"0f3c6b1a-2d4e-4f5a-8b9c-1d2e3f4a5b6c","client-request-id":"7e6d5c4b-3a29-4817-a6b5-c4d3e2f1a0b9"}}}`,
	"authorization denied":         `{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges to complete the operation.","innerError":{"date":"2025-05-14T09:31:07","request-id":"r1","client-request-id":"c1"}}}`,
	"not found":                    `{"error":{"code":"Request_ResourceNotFound","message":"Resource 'x' does not exist or one of its queried reference-property objects are not present.","innerError":{"date":"2025-05-14T09:31:07","request-id":"r1","client-request-id":"c1"}}}`,
	"invalid token":                `{"error":{"code":"InvalidAuthenticationToken","message":"Access token has expired or is not yet valid.","innerError":{"date":"2025-05-14T09:31:07","request-id":"r1","client-request-id":"c1"}}}`,
	"bad payload":                  `{"error":{"code":"BadRequest","message":"Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.","innerError":{"date":"2025-05-14T09:31:07","request-id":"r1","client-request-id":"c1"}}}`,
	"throttled":                    `{"error":{"code":"TooManyRequests","message":"Too many requests.","innerError":{"code":"throttledRequest","date":"2025-05-14T09:31:07","request-id":"r1","client-request-id":"c1"}}}`,
	"html":                         `<html><body>502 Bad Gateway</body></html>`,
}

func TestDecodeError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		want graphError
	}{
		{"sync service JSON in message", errorBodies["sync service JSON in message"], graphError{
			Code: "UnknownError", InnerCode: "InvalidNotificationSettings", Message: "The notification settings are not valid.",
			Date: "2025-05-14T09:31:07", RequestID: "0f3c6b1a-2d4e-4f5a-8b9c-1d2e3f4a5b6c", ClientRequestID: "7e6d5c4b-3a29-4817-a6b5-c4d3e2f1a0b9"}},
		{"plain message", errorBodies["authorization denied"], graphError{
			Code: "Authorization_RequestDenied", Message: "Insufficient privileges to complete the operation.",
			Date: "2025-05-14T09:31:07", RequestID: "r1", ClientRequestID: "c1"}},
		{"innerError.code", errorBodies["throttled"], graphError{
			Code: "TooManyRequests", InnerCode: "throttledRequest", Message: "Too many requests.",
			Date: "2025-05-14T09:31:07", RequestID: "r1", ClientRequestID: "c1"}},
		{"lower-case service fields", `{"error":{"code":"UnknownError","message":"{\"message\":\"Job is running.\",\"code\":\"JobAlreadyRunning\"}"}}`,
			graphError{Code: "UnknownError", InnerCode: "JobAlreadyRunning", Message: "Job is running."}},
		{"service error wrapped in error", `{"error":{"code":"UnknownError","message":"{\"error\":{\"code\":\"SyncError\",\"message\":\"Wrapped.\"}}"}}`,
			graphError{Code: "UnknownError", InnerCode: "SyncError", Message: "Wrapped."}},
		{"ErrorCode field", `{"error":{"code":"UnknownError","message":"{\"ErrorCode\":\"E42\",\"Message\":\"Odd shape.\"}"}}`,
			graphError{Code: "UnknownError", InnerCode: "E42", Message: "Odd shape."}},
		{"service JSON without message keeps the text", `{"error":{"code":"UnknownError","message":"{\"Code\":\"NoMessage\"}"}}`,
			graphError{Code: "UnknownError", InnerCode: "NoMessage", Message: `{"Code":"NoMessage"}`}},
		{"message as an object", `{"error":{"code":"UnknownError","message":{"Message":"As object.","Code":"ObjectShape"}}}`,
			graphError{Code: "UnknownError", InnerCode: "ObjectShape", Message: "As object."}},
		{"message JSON inside JSON", `{"error":{"code":"UnknownError","message":"{\"Message\":\"{\\\"Message\\\":\\\"Deep.\\\",\\\"Code\\\":\\\"Deeper\\\"}\",\"Code\":\"Outer\"}"}}`,
			graphError{Code: "UnknownError", InnerCode: "Deeper", Message: "Deep."}},
		{"message that only starts like JSON", `{"error":{"code":"BadRequest","message":"{not json"}}`,
			graphError{Code: "BadRequest", Message: "{not json"}},
		{"innererror casing", `{"error":{"code":"X","message":"m","innererror":{"request-id":"r2","code":"Y"}}}`,
			graphError{Code: "X", InnerCode: "Y", Message: "m", RequestID: "r2"}},
		{"wrong types are skipped", `{"error":{"code":42,"message":"still read","innerError":{"request-id":["r"],"date":"d"}}}`,
			graphError{Message: "still read", Date: "d"}},
		{"html", errorBodies["html"], graphError{}},
		{"empty", ``, graphError{}},
		{"null", `null`, graphError{}},
		{"error is a string", `{"error":"nope"}`, graphError{}},
		{"truncated", errorBodies["authorization denied"][:40], graphError{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, decodeError([]byte(tt.body))); diff != "" {
				t.Errorf("decodeError mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzDecodeError feeds arbitrary bytes to the error body parser. It must not
// panic, and a decoded error, written back in Graph's shape, must decode to
// the same fields.
func FuzzDecodeError(f *testing.F) {
	for _, b := range errorBodies {
		f.Add([]byte(b))
	}
	f.Add([]byte(`{"error":{"code":"UnknownError","message":{"Message":"x","Code":"Y"}}}`))
	f.Add([]byte(`{"error":{"message":"{\"error\":{\"error\":{\"code\":\"Z\"}}}"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		got := decodeError(body)
		if strings.HasPrefix(strings.TrimSpace(got.Message), "{") {
			return // JSON-looking text would be decoded again; no round trip
		}
		var w struct {
			Error struct {
				Code       string `json:"code"`
				Message    string `json:"message"`
				InnerError struct {
					Code            string `json:"code"`
					Date            string `json:"date"`
					RequestID       string `json:"request-id"`
					ClientRequestID string `json:"client-request-id"`
				} `json:"innerError"`
			} `json:"error"`
		}
		w.Error.Code, w.Error.Message = got.Code, got.Message
		w.Error.InnerError.Code, w.Error.InnerError.Date = got.InnerCode, got.Date
		w.Error.InnerError.RequestID, w.Error.InnerError.ClientRequestID = got.RequestID, got.ClientRequestID
		again, err := json.Marshal(w)
		if err != nil {
			t.Fatalf("re-encoding %+v: %v", got, err)
		}
		if diff := cmp.Diff(got, decodeError(again)); diff != "" {
			t.Errorf("round trip of %q changed the error (-first +second):\n%s", body, diff)
		}
	})
}

// FuzzResponseError feeds arbitrary error answers (body, Retry-After, the
// request-id header) for a request that sent one secret value. Whatever Graph
// answers, no field of the error (Error() is made of them) may hold the value,
// except inside the redaction marker itself; the wait asked for is never
// negative.
func FuzzResponseError(f *testing.F) {
	const sent = "s3cr3t-t0ken/with\"quote<&>"
	for _, b := range errorBodies {
		f.Add([]byte(b), "", "", sent)
	}
	f.Add([]byte(`{"error":{"code":"UnknownError","message":"{\"Message\":\"bad token s3cr3t-t0ken/with\\\"quote<&>\",\"Code\":\"InvalidCredentials\"}","innerError":{"date":"s3cr3t-t0ken","request-id":"s3cr3t-t0ken","client-request-id":"s3cr3t-t0ken"}}}`), "", "", "s3cr3t-t0ken")
	f.Add([]byte(`{"error":{"code":"TooManyRequests","message":"echo \u0073ecret-value"}}`), "120", "req-1", "secret-value")
	f.Add([]byte(`{"error":{"message":"x"}}`), "Wed, 21 Oct 2015 07:28:00 GMT", "", "xxxxxxxx")
	f.Add([]byte(`{"error":{"message":"x"}}`), "-5", "", "xxxxxxxx")
	f.Add([]byte(`{"error":{"message":"x"}}`), "2001700000000", "", "xxxxxxxx") // overflowed into a negative wait
	f.Fuzz(func(t *testing.T, body []byte, retryAfterHeader, requestID, value string) {
		if len(value) < 8 || strings.ContainsAny(value, "[]\x00") || !utf8.ValidString(value) {
			// Values are UTF-8 (the body encoder refuses others) and, being
			// credentials, not one of the few short words this package
			// writes itself (a status code, "sent-id"); see below for the
			// brackets.
			return
		}
		h := http.Header{}
		if retryAfterHeader != "" {
			h.Set("Retry-After", retryAfterHeader)
		}
		if requestID != "" && !strings.Contains(requestID, value) {
			h.Set(headerRequestID, requestID)
		}
		resp := &http.Response{StatusCode: http.StatusBadRequest, Header: h, Body: io.NopCloser(bytes.NewReader(body))}
		e := newResponseError("PutSecrets", resp, "sent-id", secret.NewScrubber(secret.New(value)))
		if e.RetryAfter < 0 {
			t.Fatalf("RetryAfter %v < 0", e.RetryAfter)
		}
		// The marker is replaced by a byte no value holds, so that an
		// occurrence of the value spanning it (impossible for a value without
		// brackets) or inside it (a value such as "DAC") is not counted.
		for name, field := range map[string]string{
			"Code": e.Code, "InnerCode": e.InnerCode, "Message": e.Message, "RequestID": e.RequestID,
			"ClientRequestID": e.ClientRequestID, "Date": e.Date,
		} {
			if strings.Contains(strings.ReplaceAll(field, secret.Redacted, "\x00"), value) {
				t.Fatalf("%s holds the secret value (%d bytes)", name, len(value))
			}
		}
	})
}

// TestEveryOperationScrubs: whichever operation Graph answers with an error
// quoting a value of the invocation (one this request did not even carry),
// cut off, \u-escaped or percent-encoded, no piece of it survives in the
// *ResponseError.
func TestEveryOperationScrubs(t *testing.T) {
	t.Parallel()
	const saved = "saved-token-9c1e7f3a-4b2d-8e6f"
	quotes := map[string]string{
		"whole":   saved,
		"cut off": saved[:13],
		"\\u":     `\u0073aved-token-9c1e7f3a`,
		"percent": "saved%2dtoken%2D9c1e7f3a",
		"crlf":    "saved-token-\r\n9c1e7f3a",
	}
	ops := map[string]func(ctx context.Context, c *Client) error{
		OperationPutSecrets: func(ctx context.Context, c *Client) error {
			_, err := c.PutSecrets(ctx, APIVersionV1, testSPID, testSecrets())
			return err
		},
		OperationValidateCredentials: func(ctx context.Context, c *Client) error {
			_, err := c.ValidateCredentials(ctx, APIVersionV1, testSPID, CredentialsTarget{TemplateID: "scim"}, testSecrets())
			return err
		},
		OperationStartJob: func(ctx context.Context, c *Client) error {
			_, err := c.StartJob(ctx, APIVersionV1, testSPID, testJobID)
			return err
		},
		OperationRestartJob: func(ctx context.Context, c *Client) error {
			_, err := c.RestartJob(ctx, APIVersionV1, testSPID, testJobID, "Full")
			return err
		},
		OperationGetJob: func(ctx context.Context, c *Client) error {
			_, err := c.GetJob(ctx, APIVersionV1, testSPID, testJobID)
			return err
		},
	}
	for op, call := range ops {
		for qname, quote := range quotes {
			t.Run(op+"/"+qname, func(t *testing.T) {
				t.Parallel()
				body, _ := json.Marshal(map[string]any{"error": map[string]any{
					"code": "Unauthorized", "message": "401 for Authorization: Bearer " + quote + " at the target",
					"innerError": map[string]string{"request-id": "req-" + quote},
				}})
				c, _, _ := setup(t, func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusUnauthorized)
					_, _ = w.Write(body)
				}, nil)
				ctx, s := secret.WithScrubber(t.Context())
				s.Add(secret.New(saved))
				err := call(ctx, c)
				re, ok := errors.AsType[*ResponseError](err)
				if !ok || re.Operation != op {
					t.Fatalf("error = %v, want a *ResponseError of %s", err, op)
				}
				all := strings.Join([]string{re.Message, re.RequestID, re.Code, err.Error()}, "|")
				for i := 0; i+12 <= len(saved); i++ {
					if strings.Contains(all, saved[i:i+12]) {
						t.Fatalf("a piece of the value survived (at byte %d of the error's texts)", strings.Index(all, saved[i:i+12]))
					}
				}
				if !strings.Contains(re.Message, secret.Redacted) {
					t.Errorf("Message (%d bytes) is not redacted", len(re.Message))
				}
			})
		}
	}
}
