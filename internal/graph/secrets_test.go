package graph

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	azlog "github.com/Azure/azure-sdk-for-go/sdk/azcore/log"
	"github.com/google/go-cmp/cmp"

	"github.com/putsecrets/putsecrets/internal/secret"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// captured is what the Graph stand-in saw of one request.
type captured struct {
	method, path, rawPath, host string
	header                      http.Header
	body                        []byte
}

func capture(r *http.Request) captured {
	b, _ := io.ReadAll(r.Body)
	return captured{r.Method, r.URL.Path, r.URL.RawPath, r.Host, r.Header.Clone(), b}
}

func TestPutSecretsRequest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		apiVersion string
		spID       string
		wantPath   string
	}{
		{APIVersionV1, testSPID, "/v1.0/servicePrincipals/" + testSPID + "/synchronization/secrets"},
		{APIVersionBeta, testSPID, "/beta/servicePrincipals/" + testSPID + "/synchronization/secrets"},
		{APIVersionV1, "a/b?c", "/v1.0/servicePrincipals/a%2Fb%3Fc/synchronization/secrets"},
	}
	for _, tt := range tests {
		t.Run(tt.apiVersion+" "+tt.spID, func(t *testing.T) {
			t.Parallel()
			got := make(chan captured, 1)
			c, cred, _ := setup(t, func(w http.ResponseWriter, r *http.Request) {
				got <- capture(r)
				w.Header().Set("request-id", "req-1")
				w.WriteHeader(http.StatusNoContent)
			}, nil)
			resp, err := c.PutSecrets(t.Context(), tt.apiVersion, tt.spID, testSecrets())
			if err != nil {
				t.Fatalf("PutSecrets: %v", err)
			}
			req := <-got
			path := req.path
			if req.rawPath != "" {
				path = req.rawPath
			}
			checks := []struct{ what, got, want string }{
				{"method", req.method, http.MethodPut},
				{"path", path, tt.wantPath},
				{"Content-Type", req.header.Get("Content-Type"), "application/json"},
				{"Accept", req.header.Get("Accept"), "application/json"},
				{"Authorization", req.header.Get("Authorization"), "Bearer " + testToken},
				{"response ClientRequestID", resp.ClientRequestID, req.header.Get("client-request-id")},
				{"response RequestID", resp.RequestID, "req-1"},
				{"scopes", fmt.Sprint(cred.requested()), fmt.Sprint([][]string{{c.endpoint + "/.default"}})},
			}
			for _, ch := range checks {
				if ch.got != ch.want {
					t.Errorf("%s = %q, want %q", ch.what, ch.got, ch.want)
				}
			}
			if id := req.header.Get("client-request-id"); !uuidPattern.MatchString(id) {
				t.Errorf("client-request-id = %q, want a UUID", id)
			}
			if ua := req.header.Get("User-Agent"); !strings.Contains(ua, "azsdk-go-graph/"+moduleVersion) {
				t.Errorf("User-Agent = %q, want azcore telemetry", ua)
			}
		})
	}
}

func TestPutSecretsBodyGolden(t *testing.T) {
	t.Parallel()
	got := make(chan captured, 1)
	c, _, _ := setup(t, func(w http.ResponseWriter, r *http.Request) {
		got <- capture(r)
		w.WriteHeader(http.StatusNoContent)
	}, nil)
	secrets := []Secret{
		{Key: "BaseAddress", Value: secret.New("https://scim.example.com/scim/v2?tenant=a&b=<c>")},
		{Key: "SecretToken", Value: secret.New("example-scim-token")},
		{Key: "Password", Value: secret.New(`p"a\ss wörd`)},
		{Key: "SyncNotificationSettings", Value: secret.New(`{"Enabled":true,"Recipients":"ops@example.com","DeleteThresholdEnabled":true,"DeleteThresholdValue":50}`)},
		{Key: "SyncAll", Value: secret.New("false")},
	}
	if _, err := c.PutSecrets(t.Context(), APIVersionV1, testSPID, secrets); err != nil {
		t.Fatal(err)
	}
	body := (<-got).body
	golden := filepath.Join("testdata", "put-secrets-body.golden")
	if *update {
		if err := os.WriteFile(golden, body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(body)); diff != "" {
		t.Errorf("body mismatch (-want +got):\n%s", diff)
	}
}

func TestPutSecretsRejectsBeforeIO(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		apiVersion string
		spID       string
		secrets    []Secret
	}{
		{"unknown version", "v2.0", testSPID, testSecrets()},
		{"empty version", "", testSPID, testSecrets()},
		{"version casing", "V1.0", testSPID, testSecrets()},
		{"empty service principal", APIVersionV1, "", testSecrets()},
		{"dot-dot service principal", APIVersionV1, "..", testSecrets()},
		{"no secrets", APIVersionV1, testSPID, nil},
		{"empty key", APIVersionV1, testSPID, []Secret{{Key: "", Value: secret.New("x")}}},
		{"invalid UTF-8", APIVersionV1, testSPID, []Secret{{Key: "SecretToken", Value: secret.New("\xff" + canary)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, cred, srv := setup(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusNoContent)
			}, nil)
			_, err := c.PutSecrets(t.Context(), tt.apiVersion, tt.spID, tt.secrets)
			if err == nil {
				t.Fatal("PutSecrets succeeded, want an error")
			}
			if holdsPiece(err.Error(), canary) {
				t.Errorf("error reveals the value: %v", err)
			}
			if n := srv.hits.Load(); n != 0 {
				t.Errorf("requests = %d, want 0", n)
			}
			if n := len(cred.requested()); n != 0 {
				t.Errorf("token requests = %d, want 0", n)
			}
		})
	}
}

// sequence answers the i-th request with the i-th handler (the last one for
// every later request) and records each request's client-request-id.
type sequence struct {
	mu       sync.Mutex
	handlers []http.HandlerFunc
	ids      []string
}

func (s *sequence) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	i := min(len(s.ids), len(s.handlers)-1)
	s.ids = append(s.ids, r.Header.Get("client-request-id"))
	h := s.handlers[i]
	s.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer "+testToken {
		http.Error(w, "no token", http.StatusTeapot)
		return
	}
	h(w, r)
}

func status(code int, header ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(code)
	}
}

func TestPutSecretsRetries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		handlers      []http.HandlerFunc
		maxRetryDelay time.Duration
		wantTries     int
		wantStatus    int // 0: success
		wantRetry     time.Duration
		minElapsed    time.Duration
	}{
		{
			name:       "429 with Retry-After 1 then 204",
			handlers:   []http.HandlerFunc{status(429, "Retry-After", "1"), status(204)},
			wantTries:  2,
			minElapsed: time.Second,
		},
		{
			name:          "503 with Retry-After beyond MaxRetryDelay is not retried",
			handlers:      []http.HandlerFunc{status(503, "Retry-After", "120"), status(204)},
			maxRetryDelay: 2 * time.Second,
			wantTries:     1,
			wantStatus:    503,
			wantRetry:     120 * time.Second,
		},
		{
			name:      "409 is retried",
			handlers:  []http.HandlerFunc{status(409), status(204)},
			wantTries: 2,
		},
		{
			name:      "503 twice then 200",
			handlers:  []http.HandlerFunc{status(503), status(503), status(200)},
			wantTries: 3,
		},
		{
			name:       "500 until retries run out",
			handlers:   []http.HandlerFunc{status(500)},
			wantTries:  4,
			wantStatus: 500,
		},
		{
			name:       "400 is not retried",
			handlers:   []http.HandlerFunc{status(400), status(204)},
			wantTries:  1,
			wantStatus: 400,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			seq := &sequence{handlers: tt.handlers}
			opts := &ClientOptions{}
			opts.Retry.MaxRetryDelay = tt.maxRetryDelay
			c, _, _ := setup(t, seq.serve, opts)

			start := time.Now()
			resp, err := c.PutSecrets(t.Context(), APIVersionV1, testSPID, testSecrets())
			elapsed := time.Since(start)

			if len(seq.ids) != tt.wantTries {
				t.Errorf("tries = %d, want %d", len(seq.ids), tt.wantTries)
			}
			for i, id := range seq.ids {
				if id != seq.ids[0] || !uuidPattern.MatchString(id) {
					t.Errorf("try %d client-request-id = %q, want %q on every try", i+1, id, seq.ids[0])
				}
			}
			if resp.ClientRequestID != seq.ids[0] {
				t.Errorf("response ClientRequestID = %q, want %q", resp.ClientRequestID, seq.ids[0])
			}
			if elapsed < tt.minElapsed {
				t.Errorf("took %v, want at least %v (Retry-After)", elapsed, tt.minElapsed)
			}
			if tt.wantStatus == 0 {
				if err != nil {
					t.Fatalf("PutSecrets: %v", err)
				}
				return
			}
			re, ok := errors.AsType[*ResponseError](err)
			if !ok {
				t.Fatalf("error = %v (%T), want *ResponseError", err, err)
			}
			if re.StatusCode != tt.wantStatus || re.RetryAfter != tt.wantRetry {
				t.Errorf("StatusCode, RetryAfter = %d, %v; want %d, %v", re.StatusCode, re.RetryAfter, tt.wantStatus, tt.wantRetry)
			}
			if re.ClientRequestID != seq.ids[0] {
				t.Errorf("ResponseError.ClientRequestID = %q, want the sent %q", re.ClientRequestID, seq.ids[0])
			}
		})
	}
}

func TestPutSecretsResponseError(t *testing.T) {
	t.Parallel()
	const (
		reqID   = "0f3c6b1a-2d4e-4f5a-8b9c-1d2e3f4a5b6c"
		clReqID = "7e6d5c4b-3a29-4817-a6b5-c4d3e2f1a0b9"
		date    = "2025-05-14T09:31:07"
	)
	inner := fmt.Sprintf(`"innerError":{"date":%q,"request-id":%q,"client-request-id":%q}`, date, reqID, clReqID)
	tests := []struct {
		name     string
		status   int
		header   []string
		body     string
		want     ResponseError // ClientRequestID "" means: the one the client sent
		wantLine string
	}{
		{
			name:   "400 with the sync service's JSON in message",
			status: 400,
			header: []string{"request-id", reqID, "client-request-id", clReqID},
			body: `{"error":{"code":"UnknownError","message":"{\"Message\":\"The notification settings are not valid.\",\"Code\":\"InvalidNotificationSettings\",\"Target\":null,\"Details\":null,\"InnerError\":null,\"InstanceAnnotations\":[]}",` +
				inner + `}}`,
			want: ResponseError{StatusCode: 400, Code: "UnknownError", InnerCode: "InvalidNotificationSettings",
				Message: "The notification settings are not valid.", RequestID: reqID, ClientRequestID: clReqID, Date: date},
			wantLine: "graph PutSecrets: 400 Bad Request, code UnknownError, inner code InvalidNotificationSettings, request-id " + reqID + ", client-request-id " + clReqID,
		},
		{
			name:   "401 IDs from innerError",
			status: 401,
			body:   `{"error":{"code":"InvalidAuthenticationToken","message":"Access token validation failure. Invalid audience.",` + inner + `}}`,
			want: ResponseError{StatusCode: 401, Code: "InvalidAuthenticationToken",
				Message: "Access token validation failure. Invalid audience.", RequestID: reqID, ClientRequestID: clReqID, Date: date},
		},
		{
			name:   "403",
			status: 403,
			header: []string{"request-id", reqID},
			body:   `{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges to complete the operation.",` + inner + `}}`,
			want: ResponseError{StatusCode: 403, Code: "Authorization_RequestDenied",
				Message: "Insufficient privileges to complete the operation.", RequestID: reqID, ClientRequestID: clReqID, Date: date},
		},
		{
			name:   "404",
			status: 404,
			header: []string{"request-id", reqID},
			body:   `{"error":{"code":"Request_ResourceNotFound","message":"Resource '` + testSPID + `' does not exist or one of its queried reference-property objects are not present.",` + inner + `}}`,
			want: ResponseError{StatusCode: 404, Code: "Request_ResourceNotFound",
				Message: "Resource '" + testSPID + "' does not exist or one of its queried reference-property objects are not present.", RequestID: reqID, ClientRequestID: clReqID, Date: date},
		},
		{
			name:     "non-JSON body",
			status:   502,
			header:   []string{"request-id", reqID, "Content-Type", "text/html"},
			body:     "<html><body><h1>502 Bad Gateway</h1>" + canary + "</body></html>",
			want:     ResponseError{StatusCode: 502, RequestID: reqID},
			wantLine: "graph PutSecrets: 502 Bad Gateway, request-id " + reqID + ", client-request-id ",
		},
		{
			name:   "empty body",
			status: 403,
			want:   ResponseError{StatusCode: 403},
		},
		{
			name:   "message echoes a secret value",
			status: 400,
			body:   `{"error":{"code":"BadRequest","message":"Value '` + canary + `' for SecretToken is not valid; expected https://scim.example.com/scim/v2.",` + inner + `}}`,
			want: ResponseError{StatusCode: 400, Code: "BadRequest",
				Message: "Value '[REDACTED]' for SecretToken is not valid; expected [REDACTED].", RequestID: reqID, ClientRequestID: clReqID, Date: date},
		},
		{
			name:   "inner JSON echoes a secret value",
			status: 400,
			body:   `{"error":{"code":"UnknownError","message":"{\"Message\":\"Token ` + canary + ` was rejected by the target.\",\"Code\":\"CredentialsRejected\"}"}}`,
			want: ResponseError{StatusCode: 400, Code: "UnknownError", InnerCode: "CredentialsRejected",
				Message: "Token [REDACTED] was rejected by the target."},
		},
		{
			name:   "429 Retry-After as HTTP date is kept",
			status: 429,
			header: []string{"Retry-After", "Mon, 02 Jan 2006 15:04:05 GMT"}, // in the past: zero
			body:   `{"error":{"code":"TooManyRequests","message":"Too many requests."}}`,
			want:   ResponseError{StatusCode: 429, Code: "TooManyRequests", Message: "Too many requests."},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sent := make(chan string, 1)
			opts := &ClientOptions{}
			opts.Retry.MaxRetries = -1
			c, _, _ := setup(t, func(w http.ResponseWriter, r *http.Request) {
				sent <- r.Header.Get("client-request-id")
				for i := 0; i+1 < len(tt.header); i += 2 {
					w.Header().Set(tt.header[i], tt.header[i+1])
				}
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			}, opts)
			_, err := c.PutSecrets(t.Context(), APIVersionV1, testSPID, testSecrets())
			wrapped := fmt.Errorf("put secrets: %w", err)
			re, ok := errors.AsType[*ResponseError](wrapped)
			if !ok {
				t.Fatalf("error = %v (%T), want *ResponseError", err, err)
			}
			id := <-sent
			want := tt.want
			want.Operation = "PutSecrets"
			if want.ClientRequestID == "" {
				want.ClientRequestID = id
			}
			if diff := cmp.Diff(want, *re); diff != "" {
				t.Errorf("ResponseError mismatch (-want +got):\n%s", diff)
			}
			line := re.Error()
			if tt.wantLine != "" && !strings.HasPrefix(line, tt.wantLine) {
				t.Errorf("Error() = %q, want prefix %q", line, tt.wantLine)
			}
			if strings.ContainsAny(line, "\r\n") || holdsPiece(line, canary) || strings.Contains(line, "scim.example.com") {
				t.Errorf("Error() = %q: want one line without values", line)
			}
		})
	}
}

func TestPutSecretsContextCanceled(t *testing.T) {
	t.Parallel()
	c, _, _ := setup(t, status(204), nil)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	resp, err := c.PutSecrets(ctx, APIVersionV1, testSPID, testSecrets())
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want context.Canceled", err)
	}
	if !uuidPattern.MatchString(resp.ClientRequestID) {
		t.Errorf("ClientRequestID = %q, want the ID of the attempt", resp.ClientRequestID)
	}
}

// TestLoggingNeverShowsValues turns on every azcore log event and asks for
// bodies; neither the request body nor an echoing error body may reach the
// log. Not parallel: the azcore log listener is process-wide.
func TestLoggingNeverShowsValues(t *testing.T) {
	var mu sync.Mutex
	var logs strings.Builder
	azlog.SetListener(func(_ azlog.Event, msg string) {
		mu.Lock()
		defer mu.Unlock()
		logs.WriteString(msg)
		logs.WriteString("\n")
	})
	t.Cleanup(func() { azlog.SetListener(nil) })

	var tries atomic.Int32
	opts := &ClientOptions{}
	opts.Logging.IncludeBody = true
	c, _, _ := setup(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if tries.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
		} else {
			w.WriteHeader(http.StatusBadRequest)
		}
		_, _ = io.WriteString(w, `{"error":{"code":"BadRequest","message":"bad value `+canary+`"}}`)
	}, opts)
	resp, err := c.PutSecrets(t.Context(), APIVersionV1, testSPID, testSecrets())
	if err == nil {
		t.Fatal("PutSecrets succeeded, want a 400")
	}
	mu.Lock()
	defer mu.Unlock()
	got := logs.String()
	if got == "" {
		t.Fatal("no azcore log output; the test checks nothing")
	}
	if holdsPiece(got, canary) {
		t.Errorf("azcore log holds a secret value:\n%s", got)
	}
	if !strings.Contains(got, resp.ClientRequestID) {
		t.Errorf("azcore log does not show client-request-id %s:\n%s", resp.ClientRequestID, got)
	}
}

func BenchmarkEncodePutSecretsBody(b *testing.B) {
	secrets := []Secret{
		{Key: "BaseAddress", Value: secret.New("https://scim.example.com/scim/v2")},
		{Key: "SecretToken", Value: secret.New(strings.Repeat("t", 1200))},
		{Key: "Password", Value: secret.New("p@ssw0rd-with-some-length")},
		{Key: "SyncNotificationSettings", Value: secret.New(`{"Enabled":true,"Recipients":"ops@example.com","DeleteThresholdEnabled":true,"DeleteThresholdValue":50}`)},
		{Key: "SyncAll", Value: secret.New("false")},
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := encodePutSecretsBody(secrets); err != nil {
			b.Fatal(err)
		}
	}
}
