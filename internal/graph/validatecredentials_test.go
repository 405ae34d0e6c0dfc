package graph

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/putsecrets/putsecrets/internal/secret"
)

func TestValidateCredentialsRequest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		target   CredentialsTarget
		wantPath string
		golden   string
	}{
		{
			name:     "collection with a template",
			target:   CredentialsTarget{TemplateID: "scim"},
			wantPath: "/v1.0/servicePrincipals/" + testSPID + "/synchronization/jobs/validateCredentials",
			golden:   "validate-credentials-template-body.golden",
		},
		{
			name:     "bound to a job",
			target:   CredentialsTarget{JobID: "scim.e5b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5.6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c"},
			wantPath: "/v1.0/servicePrincipals/" + testSPID + "/synchronization/jobs/scim.e5b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5.6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c/validateCredentials",
			golden:   "validate-credentials-job-body.golden",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := make(chan captured, 1)
			c, _, _ := setup(t, func(w http.ResponseWriter, r *http.Request) {
				got <- capture(r)
				w.Header().Set("request-id", "req-v")
				w.WriteHeader(http.StatusNoContent)
			}, nil)
			secrets := []Secret{
				{Key: "BaseAddress", Value: secret.New("https://scim.example.com/scim/v2?tenant=a&b=<c>")},
				{Key: "SecretToken", Value: secret.New("example-scim-token")},
			}
			resp, err := c.ValidateCredentials(t.Context(), APIVersionV1, testSPID, tt.target, secrets)
			if err != nil {
				t.Fatalf("ValidateCredentials: %v", err)
			}
			req := <-got
			if req.method != http.MethodPost || req.path != tt.wantPath || req.header.Get("Content-Type") != "application/json" {
				t.Errorf("request = %s %s (%s), want POST %s (application/json)", req.method, req.path, req.header.Get("Content-Type"), tt.wantPath)
			}
			if resp.RequestID != "req-v" || resp.ClientRequestID != req.header.Get("client-request-id") {
				t.Errorf("response IDs = %+v", resp.RequestIDs)
			}
			checkGolden(t, tt.golden, req.body)
		})
	}
}

// checkGolden compares body with testdata/name (rewritten with -update).
func checkGolden(t *testing.T, name string, body []byte) {
	t.Helper()
	golden := filepath.Join("testdata", name)
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

func TestValidateCredentialsRejectsBeforeIO(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		spID    string
		target  CredentialsTarget
		secrets []Secret
	}{
		{"no target", testSPID, CredentialsTarget{}, testSecrets()},
		{"both targets", testSPID, CredentialsTarget{TemplateID: "scim", JobID: "j"}, testSecrets()},
		{"dot-dot job", testSPID, CredentialsTarget{JobID: ".."}, testSecrets()},
		{"empty service principal", "", CredentialsTarget{TemplateID: "scim"}, testSecrets()},
		{"no secrets", testSPID, CredentialsTarget{TemplateID: "scim"}, nil},
		{"invalid UTF-8", testSPID, CredentialsTarget{TemplateID: "scim"}, []Secret{{Key: "SecretToken", Value: secret.New("\xff" + canary)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, cred, srv := setup(t, status(http.StatusNoContent), nil)
			_, err := c.ValidateCredentials(t.Context(), APIVersionV1, tt.spID, tt.target, tt.secrets)
			if err == nil {
				t.Fatal("ValidateCredentials succeeded, want an error")
			}
			if holdsPiece(err.Error(), canary) {
				t.Errorf("error reveals the value: %v", err)
			}
			if srv.hits.Load() != 0 || len(cred.requested()) != 0 {
				t.Errorf("requests = %d, token requests = %d; want none", srv.hits.Load(), len(cred.requested()))
			}
		})
	}
}

// TestValidateCredentialsRejected: the synchronization service's refusal
// arrives as a 400 with its own error JSON in the message, which quotes the
// target's answer (and with it the BaseAddress sent). The error keeps the
// reason and drops every value.
func TestValidateCredentialsRejected(t *testing.T) {
	t.Parallel()
	const base = "https://scim.example.com/scim/v2"
	inner := `{"Message":"While attempting to validate our authorization to access your application, we received this unexpected response: Resource: ` +
		base + `/Users?filter=userName eq \"x\" Response Status Code: Unauthorized Token: ` + canary +
		`","Code":"SystemForCrossDomainIdentityManagementCredentialValidationFailure","Target":null,"Details":null,"InnerError":null,"Instance":null}`
	body := fmt.Sprintf(`{"error":{"code":"UnknownError","message":%q,"innerError":{"date":"2025-05-14T09:31:07","request-id":"r-7","client-request-id":"c-7"}}}`, inner)
	opts := &ClientOptions{}
	opts.Retry.MaxRetries = -1
	c, _, srv := setup(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, body)
	}, opts)
	secrets := []Secret{{Key: "BaseAddress", Value: secret.New(base)}, {Key: "SecretToken", Value: secret.New(canary)}}
	_, err := c.ValidateCredentials(t.Context(), APIVersionV1, testSPID, CredentialsTarget{TemplateID: "scim"}, secrets)
	re, ok := errors.AsType[*ResponseError](err)
	if !ok {
		t.Fatalf("error = %v (%T), want *ResponseError", err, err)
	}
	if re.StatusCode != 400 || re.Operation != "ValidateCredentials" || re.Code != "UnknownError" ||
		re.InnerCode != "SystemForCrossDomainIdentityManagementCredentialValidationFailure" || re.RequestID != "r-7" {
		t.Errorf("ResponseError = %+v", *re)
	}
	if holdsPiece(re.Message, canary) || holdsPiece(re.Message, base) {
		t.Errorf("message keeps a value (%d bytes)", len(re.Message))
	}
	if !strings.Contains(re.Message, "While attempting to validate our authorization") || !strings.Contains(re.Message, secret.Redacted) {
		t.Errorf("message lost the reason: %q", re.Message)
	}
	if srv.hits.Load() != 1 {
		t.Errorf("requests = %d, want 1 (a refusal is not retried)", srv.hits.Load())
	}
}
