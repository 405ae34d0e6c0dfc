package problem

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/google/go-cmp/cmp"

	"github.com/putsecrets/putsecrets/internal/credential"
	"github.com/putsecrets/putsecrets/internal/graph"
	"github.com/putsecrets/putsecrets/internal/provision"
	"github.com/putsecrets/putsecrets/internal/request"
	"github.com/putsecrets/putsecrets/internal/secret"
	"github.com/putsecrets/putsecrets/internal/transport"
	"github.com/putsecrets/putsecrets/internal/vault"
)

func kvError(status int, code, inner string, retryAfter string) *azcore.ResponseError {
	body := fmt.Sprintf(`{"error":{"code":%q,"message":"m","innererror":{"code":%q}}}`, code, inner)
	h := http.Header{"X-Ms-Request-Id": {"kv-req-1"}}
	if retryAfter != "" {
		h.Set("Retry-After", retryAfter)
	}
	return &azcore.ResponseError{StatusCode: status, ErrorCode: code, RawResponse: &http.Response{
		StatusCode: status, Header: h, Body: streaming.NopCloser(strings.NewReader(body)), // azcore buffers error bodies: they seek
		Request: &http.Request{Method: http.MethodGet},
	}}
}

func vaultErr(name string, err error) error {
	return &vault.Error{Ref: vault.Ref{VaultURL: "https://contoso-kv.vault.azure.net", Vault: "contoso-kv", Name: name}, Err: err}
}

// graphArgumentError is the error a real graph client returns for a job ID
// it refuses to put in a path: no request is sent.
func graphArgumentError(t *testing.T) error {
	t.Helper()
	c, err := graph.NewClient("https://graph.microsoft.com", noCredential{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.StartJob(context.Background(), graph.APIVersionV1, "6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c", "..")
	if _, ok := errors.AsType[*graph.ArgumentError](err); !ok {
		t.Fatalf("StartJob with job ID \"..\" = %v, want a *graph.ArgumentError", err)
	}
	return err
}

// noCredential fails every token request; the calls under test never ask.
type noCredential struct{}

func (noCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{}, errors.New("no token in this test")
}

func TestFrom(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		err        error
		status     int
		fields     []string
		dependency *Dependency
		retryAfter time.Duration
		detail     []string // substrings the detail must hold
		transient  bool
	}{
		{
			name:   "invalid request",
			err:    &request.Error{Problems: []request.Problem{{Field: "servicePrincipalId", Message: "not a GUID"}, {Field: "secrets[1].secretUri", Message: "vault not allowed", Policy: true}}},
			status: 400, fields: []string{"servicePrincipalId", "secrets[1].secretUri"}, detail: []string{"2 problem(s)", "nothing was sent"},
		},
		{
			name:   "policy only",
			err:    &request.Error{Problems: []request.Problem{{Field: "secrets[1].secretUri", Message: `vault "evil" is not in PUTSECRETS_ALLOWED_VAULTS`, Policy: true}}},
			status: 403, fields: []string{"secrets[1].secretUri"},
		},
		{
			name:   "graph 400 with inner code",
			err:    during("Microsoft Graph", &graph.ResponseError{StatusCode: 400, Code: "UnknownError", InnerCode: "InvalidNotificationSettings", Message: "bad settings", RequestID: "g-1"}),
			status: 422, dependency: &Dependency{Service: "graph", Status: 400, Code: "UnknownError", InnerCode: "InvalidNotificationSettings", RequestID: "g-1"},
			detail: []string{"InvalidNotificationSettings", "SyncNotificationSettings must be a JSON object", "g-1"},
		},
		{
			name:   "graph 403 names the permissions",
			err:    &graph.ResponseError{StatusCode: 403, Code: "Authorization_RequestDenied", RequestID: "g-2"},
			status: 502, dependency: &Dependency{Service: "graph", Status: 403, Code: "Authorization_RequestDenied", RequestID: "g-2"},
			detail: []string{"Synchronization.ReadWrite.All", "Application.ReadWrite.OwnedBy", "owner"},
		},
		{
			name:   "graph 401",
			err:    &graph.ResponseError{StatusCode: 401, Code: "InvalidAuthenticationToken"},
			status: 502, dependency: &Dependency{Service: "graph", Status: 401, Code: "InvalidAuthenticationToken"},
		},
		{
			name:   "graph 404",
			err:    &graph.ResponseError{StatusCode: 404, Code: "Request_ResourceNotFound"},
			status: 404, dependency: &Dependency{Service: "graph", Status: 404, Code: "Request_ResourceNotFound"},
			detail: []string{"object ID"},
		},
		{
			name:   "graph throttled keeps Retry-After",
			err:    &graph.ResponseError{StatusCode: 429, Code: "TooManyRequests", RetryAfter: 90 * time.Second},
			status: 503, transient: true, retryAfter: 90 * time.Second,
			dependency: &Dependency{Service: "graph", Status: 429, Code: "TooManyRequests"},
		},
		{
			name:   "graph 409 after retries",
			err:    &graph.ResponseError{StatusCode: 409},
			status: 503, transient: true, dependency: &Dependency{Service: "graph", Status: 409},
		},
		{
			name: "validation refused by the target",
			err: during("Microsoft Graph", &graph.ResponseError{StatusCode: 400, Code: "UnknownError", Operation: graph.OperationValidateCredentials,
				InnerCode: "SystemForCrossDomainIdentityManagementCredentialValidationFailure", RequestID: "g-v",
				Message: "we received this unexpected response:\r\n\r\n   Response Status Code: Unauthorized\r\n" + strings.Repeat("x", 2000)}),
			status: 422, dependency: &Dependency{Service: "graph", Status: 400, Code: "UnknownError",
				InnerCode: "SystemForCrossDomainIdentityManagementCredentialValidationFailure", RequestID: "g-v"},
			detail: []string{"did not accept the credentials", "CredentialValidationFailure", "unexpected response: Response Status Code: Unauthorized", "x…; request-id g-v",
				"SecretToken", "BaseAddress", "Nothing was saved"},
		},
		{
			name: "401 throughout the replication wait names both causes",
			err: during("Microsoft Graph", &graph.ReplicationError{Tries: 4, Waited: 2 * time.Second, Limit: 2 * time.Second,
				Err: &graph.ResponseError{StatusCode: 401, Code: "Authorization_RequestDenied", Operation: graph.OperationPutSecrets, RequestID: "g-r"}}),
			status: 502, dependency: &Dependency{Service: "graph", Status: 401, Code: "Authorization_RequestDenied", RequestID: "g-r"},
			detail: []string{"kept answering 401", "4 tries over 2s", "not replicated yet", "PUTSECRETS_GRAPH_CONSISTENCY_WAIT",
				"Synchronization.ReadWrite.All", "Application.ReadWrite.OwnedBy", "owner", "g-r"},
		},
		{
			name: "404 throughout the replication wait names both causes",
			err: &graph.ReplicationError{Tries: 3, Waited: 1500 * time.Millisecond, Limit: 30 * time.Second,
				Err: &graph.ResponseError{StatusCode: 404, Code: "Request_ResourceNotFound", Operation: graph.OperationValidateCredentials}},
			status: 404, dependency: &Dependency{Service: "graph", Status: 404, Code: "Request_ResourceNotFound"},
			detail: []string{"kept answering 404", "validating the credentials", "not replicated yet", "Synchronization.ReadWrite.All",
				"Application.ReadWrite.OwnedBy", "object ID", "validate.jobId"},
		},
		{
			name: "403 throughout the replication wait names the permission and the wait",
			err: during("Microsoft Graph", &graph.ReplicationError{Tries: 5, Waited: 2 * time.Second, Limit: 2 * time.Second,
				Err: &graph.ResponseError{StatusCode: 403, Code: "Authorization_RequestDenied", Operation: graph.OperationStartJob, RequestID: "g-f"}}),
			status: 502, dependency: &Dependency{Service: "graph", Status: 403, Code: "Authorization_RequestDenied", RequestID: "g-f"},
			detail: []string{"kept answering 403", "starting the synchronization job", "5 tries over 2s", "waiting at most 2s",
				"Synchronization.ReadWrite.All", "Application.ReadWrite.OwnedBy", "owner", "replicated", "PUTSECRETS_GRAPH_CONSISTENCY_WAIT", "g-f"},
		},
		{
			name: "403 after a call succeeded is answered without a wait",
			err: afterSave("put-1", atFields(during("Microsoft Graph", &graph.ResponseError{StatusCode: 403,
				Code: "Authorization_RequestDenied", Operation: graph.OperationRestartJob}), "job.id")),
			status: 502, fields: []string{"job.id"}, dependency: &Dependency{Service: "graph", Status: 403, Code: "Authorization_RequestDenied"},
			detail: []string{"The secrets were saved", "Synchronization.ReadWrite.All", "Application.ReadWrite.OwnedBy"},
		},
		{
			name:   "401 without a replication wait",
			err:    &graph.ReplicationError{Tries: 1, Err: &graph.ResponseError{StatusCode: 401, Operation: graph.OperationPutSecrets}},
			status: 502, dependency: &Dependency{Service: "graph", Status: 401},
			detail: []string{"Microsoft Graph answered 401", "PUTSECRETS_GRAPH_CONSISTENCY_WAIT is 0", "not replicated yet", "Synchronization.ReadWrite.All"},
		},
		{
			name: "unknown job after the save",
			err: afterSave("put-1", atFields(during("Microsoft Graph", &graph.ResponseError{StatusCode: 404, Code: "UnknownError",
				InnerCode: "JobNotFound", Operation: graph.OperationGetJob, RequestID: "g-j"}), "job.id")),
			status: 404, fields: []string{"job.id"},
			dependency: &Dependency{Service: "graph", Status: 404, Code: "UnknownError", InnerCode: "JobNotFound", RequestID: "g-j"},
			detail:     []string{"The secrets were saved (Graph request-id put-1)", "no such synchronization job", "g-j"},
		},
		{
			name: "job refused after the save",
			err: afterSave("put-2", &graph.ResponseError{StatusCode: 400, Code: "UnknownError", InnerCode: "JobNotConfigured",
				Operation: graph.OperationStartJob}),
			status: 422, dependency: &Dependency{Service: "graph", Status: 400, Code: "UnknownError", InnerCode: "JobNotConfigured"},
			detail: []string{"were saved", "refused starting the synchronization job", "JobNotConfigured"},
		},
		{
			name:   "job throttled after the save is transient",
			err:    afterSave("put-3", &graph.ResponseError{StatusCode: 503, Operation: graph.OperationRestartJob, RetryAfter: 30 * time.Second}),
			status: 503, transient: true, retryAfter: 30 * time.Second, dependency: &Dependency{Service: "graph", Status: 503},
			detail: []string{"were saved", "restarting the synchronization job"},
		},
		{
			name:   "key vault secret not found",
			err:    atFields(vaultErr("scim-token", kvError(404, "SecretNotFound", "", "")), "secrets[1].secretUri", "secrets[3].value"),
			status: 422, fields: []string{"secrets[1].secretUri", "secrets[3].value"},
			dependency: &Dependency{Service: "keyVault", Status: 404, Code: "SecretNotFound", RequestID: "kv-req-1", Vault: "contoso-kv"},
			detail:     []string{`secret "scim-token" in vault "contoso-kv" does not exist`},
		},
		{
			name:   "key vault secret disabled",
			err:    atFields(vaultErr("scim-token", kvError(403, "Forbidden", "SecretDisabled", "")), "secrets[1].secretUri"),
			status: 422, fields: []string{"secrets[1].secretUri"},
			dependency: &Dependency{Service: "keyVault", Status: 403, Code: "Forbidden", InnerCode: "SecretDisabled", RequestID: "kv-req-1", Vault: "contoso-kv"},
			detail:     []string{"disabled"},
		},
		{
			name:   "key vault refuses the identity",
			err:    atFields(vaultErr("scim-token", kvError(403, "Forbidden", "ForbiddenByRbac", "")), "secrets[1].secretUri"),
			status: 502, fields: []string{"secrets[1].secretUri"},
			dependency: &Dependency{Service: "keyVault", Status: 403, Code: "Forbidden", RequestID: "kv-req-1", Vault: "contoso-kv"},
			detail:     []string{"Key Vault Secrets User"},
		},
		{
			name:   "key vault throttled",
			err:    atFields(vaultErr("scim-token", kvError(429, "Throttled", "", "7")), "secrets[1].secretUri"),
			status: 503, transient: true, retryAfter: 7 * time.Second, fields: []string{"secrets[1].secretUri"},
			dependency: &Dependency{Service: "keyVault", Status: 429, Code: "Throttled", RequestID: "kv-req-1", Vault: "contoso-kv"},
		},
		{
			name: "several secrets: the one needing action decides, all are listed",
			err: errors.Join(
				atFields(vaultErr("a", kvError(429, "Throttled", "", "")), "secrets[2].secretUri"),
				atFields(vaultErr("b", kvError(404, "SecretNotFound", "", "")), "secrets[10].secretUri"),
			),
			status: 422, fields: []string{"secrets[2].secretUri", "secrets[10].secretUri"},
			dependency: &Dependency{Service: "keyVault", Status: 404, Code: "SecretNotFound", RequestID: "kv-req-1", Vault: "contoso-kv"},
			detail:     []string{"2 secrets could not be read"},
		},
		{
			name:   "identity endpoint refuses the client ID",
			err:    during("Microsoft Graph", &credential.Error{Err: &azidentity.AuthenticationFailedError{RawResponse: &http.Response{StatusCode: 400}}}),
			status: 502, dependency: &Dependency{Service: "managedIdentity", Status: 400}, detail: []string{"AZURE_CLIENT_ID", "Microsoft Graph"},
		},
		{
			name:   "identity endpoint failing",
			err:    atFields(vaultErr("a", &credential.Error{Err: &azidentity.AuthenticationFailedError{RawResponse: &http.Response{StatusCode: 500}}}), "secrets[0].secretUri"),
			status: 503, transient: true, fields: []string{"secrets[0].secretUri"}, dependency: &Dependency{Service: "managedIdentity", Status: 500},
		},
		{
			name:   "identity endpoint unreachable",
			err:    during("Microsoft Graph", &credential.Error{Err: errors.New("connection refused")}),
			status: 503, transient: true, dependency: &Dependency{Service: "managedIdentity"}, detail: []string{"az login"},
		},
		{
			name: "Graph redirect, as the pipeline returns it",
			err: during("Microsoft Graph", fmt.Errorf("put secrets: %w", &url.Error{Op: "Put", URL: "https://graph.microsoft.com/v1.0/x",
				Err: &transport.RedirectError{StatusCode: 307, From: "graph.microsoft.com", To: "evil.example"}})),
			status: 502, dependency: &Dependency{Service: "graph", Status: 307},
			detail: []string{"307 Temporary Redirect", "evil.example", "graph.microsoft.com", "follows no redirect"},
		},
		{
			name: "Key Vault redirect",
			err: atFields(vaultErr("a", &url.Error{Op: "Get", URL: "https://contoso-kv.vault.azure.net/secrets/a",
				Err: &transport.RedirectError{StatusCode: 302, From: "contoso-kv.vault.azure.net", To: "other.vault.azure.net"}}), "secrets[0].secretUri"),
			status: 502, fields: []string{"secrets[0].secretUri"}, dependency: &Dependency{Service: "keyVault", Status: 302, Vault: "contoso-kv"},
			detail: []string{"302 Found", "other.vault.azure.net", `vault "contoso-kv"`},
		},
		{
			name: "identity endpoint redirect, known only to the credential error",
			err: atFields(vaultErr("a", &credential.Error{Err: errors.New("ManagedIdentityCredential: text only"),
				Redirect: &transport.RedirectError{StatusCode: 308, From: "127.0.0.1:41000", To: "evil.example"}}), "secrets[0].secretUri"),
			status: 502, fields: []string{"secrets[0].secretUri"}, dependency: &Dependency{Service: "managedIdentity", Status: 308},
			detail: []string{"308 Permanent Redirect", "evil.example", "identity endpoint"},
		},
		{
			name:   "redirect without a Location",
			err:    during("Microsoft Graph", &transport.RedirectError{StatusCode: 301, From: "graph.microsoft.com"}),
			status: 502, dependency: &Dependency{Service: "graph", Status: 301}, detail: []string{"without a usable Location"},
		},
		{
			name: "redirect of a job call after the save",
			err: afterSave("req-1", atFields(during("Microsoft Graph",
				&transport.RedirectError{StatusCode: 307, From: "graph.microsoft.com", To: "evil.example"}), "job.id")),
			status: 502, fields: []string{"job.id"}, dependency: &Dependency{Service: "graph", Status: 307},
			detail: []string{"The secrets were saved", "evil.example"},
		},
		{
			name:   "out of time",
			err:    during("Microsoft Graph", fmt.Errorf("put: %w", context.DeadlineExceeded)),
			status: 503, transient: true, detail: []string{"ran out of time", "Microsoft Graph"},
		},
		{
			name:   "network",
			err:    during("Microsoft Graph", &net.OpError{Op: "dial", Err: errors.New("refused")}),
			status: 503, transient: true, detail: []string{"could not reach Microsoft Graph"},
		},
		{
			name:   "graph client refused the arguments",
			err:    atFields(during("Microsoft Graph", graphArgumentError(t)), "job.id"),
			status: 400, fields: []string{"job.id"}, detail: []string{"cannot be sent to Microsoft Graph", "jobID", "nothing was sent"},
		},
		{
			name:   "out of time before saving",
			err:    outOfTimeAt("resolving the Key Vault references", provision.SavedNo, "", vaultErr("a", fmt.Errorf("get: %w", context.DeadlineExceeded))),
			status: 503, transient: true, dependency: &Dependency{Service: "keyVault", Vault: "contoso-kv"},
			detail: []string{"ran out of time while resolving the Key Vault references; nothing was saved", "vault \"contoso-kv\""},
		},
		{
			name: "out of time after saving",
			err: outOfTimeAt("restarting the synchronization job", provision.SavedYes, "put-1",
				afterSave("put-1", atFields(during("Microsoft Graph", context.DeadlineExceeded), "job.id"))),
			status: 503, transient: true, fields: []string{"job.id"},
			detail: []string{"The secrets were saved (Graph request-id put-1), but restarting the synchronization job did not finish in time"},
		},
		{
			name:   "out of time, not understood",
			err:    outOfTimeAt("saving the secrets", provision.SavedUnknown, "", errors.New("boom")),
			status: 503, transient: true, detail: []string{"may or may not have been saved", "retry later"},
		},
		{
			name:   "out of time keeps a dependency's answer",
			err:    outOfTimeAt("resolving the Key Vault references", provision.SavedNo, "", vaultErr("gone", kvError(404, "SecretNotFound", "", ""))),
			status: 422, dependency: &Dependency{Service: "keyVault", Vault: "contoso-kv", Status: 404, Code: "SecretNotFound", RequestID: "kv-req-1"},
			detail: []string{"does not exist"},
		},
		{
			name:   "anything else",
			err:    errors.New("boom"),
			status: 500, transient: true, detail: []string{"internal error"},
		},
		{
			name:   "a problem passes through",
			err:    fmt.Errorf("wrapped: %w", New(400, "no body")),
			status: 400, detail: []string{"no body"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := From(tt.err)
			if p.Status != tt.status || p.Doc.Status != tt.status {
				t.Fatalf("status = %d (document %d), want %d; detail %q", p.Status, p.Doc.Status, tt.status, p.Doc.Detail)
			}
			if p.Doc.Type != kindOf(tt.status).typ || p.Doc.Title != kindOf(tt.status).title {
				t.Errorf("type/title = %q/%q", p.Doc.Type, p.Doc.Title)
			}
			var fields []string
			for _, e := range p.Doc.Errors {
				fields = append(fields, e.Field)
				if e.Message == "" {
					t.Errorf("field %s has no message", e.Field)
				}
			}
			if diff := cmp.Diff(tt.fields, fields); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.dependency, p.Doc.Dependency); diff != "" {
				t.Errorf("dependency (-want +got):\n%s", diff)
			}
			if p.RetryAfter != tt.retryAfter {
				t.Errorf("RetryAfter = %v, want %v", p.RetryAfter, tt.retryAfter)
			}
			if got := p.Transient(); got != tt.transient {
				t.Errorf("Transient() = %v, want %v", got, tt.transient)
			}
			for _, want := range tt.detail {
				if !strings.Contains(p.Doc.Detail, want) {
					t.Errorf("detail %q lacks %q", p.Doc.Detail, want)
				}
			}
			var doc map[string]any
			if err := json.Unmarshal(p.JSON(), &doc); err != nil {
				t.Fatalf("JSON() is not JSON: %v", err)
			}
			for _, k := range []string{"type", "title", "status", "detail"} {
				if _, ok := doc[k]; !ok {
					t.Errorf("document lacks %q", k)
				}
			}
		})
	}
}

func TestRetryAfterHeader(t *testing.T) {
	t.Parallel()
	p := From(&graph.ResponseError{StatusCode: 503, RetryAfter: 1500 * time.Millisecond})
	if got := p.RetryAfterHeader(); got != "2" {
		t.Errorf("RetryAfterHeader() = %q, want 2 (rounded up)", got)
	}
	if got := *p.Doc.RetryAfter; got != 2 {
		t.Errorf("retryAfterSeconds = %d, want 2", got)
	}
	if got := From(&graph.ResponseError{StatusCode: 503}).RetryAfterHeader(); got != "" {
		t.Errorf("RetryAfterHeader() without Retry-After = %q", got)
	}
}

// TestFromScrubsAsTheLastLine: an error that carries the invocation's
// scrubber yields a document without any piece of a value, even when the
// error itself (here built by hand) was not scrubbed where it was made.
func TestFromScrubsAsTheLastLine(t *testing.T) {
	t.Parallel()
	const v = "last-line-token-5e1d9a0c"
	s := secret.NewScrubber(secret.New(v))
	for name, err := range map[string]error{
		"graph": &graph.ResponseError{StatusCode: 401, Operation: graph.OperationStartJob, Code: "x" + v[:14],
			Message: "Bearer " + `\u006c` + v[1:], RequestID: v[3:17]},
		"after save": afterSave("req-"+v, &graph.ResponseError{StatusCode: 400, Operation: graph.OperationGetJob,
			Message: "bad " + strings.ReplaceAll(v, "-", "%2d")}),
	} {
		p := From(s.Wrap(err))
		doc := string(p.JSON()) + fmt.Sprint(p.LogAttrs()...)
		for i := 0; i+12 <= len(v); i++ {
			if strings.Contains(doc, v[i:i+12]) {
				t.Errorf("%s: a piece of the value survived (at byte %d)", name, strings.Index(doc, v[i:i+12]))
				break
			}
		}
		if !strings.Contains(doc, secret.Redacted) {
			t.Errorf("%s: nothing redacted", name)
		}
		if unscrubbed := From(err); !strings.Contains(string(unscrubbed.JSON()), v[3:17]) {
			t.Errorf("%s: the test's error holds no value to scrub", name)
		}
	}
}
