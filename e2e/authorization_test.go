package e2e

import (
	"strings"
	"testing"

	"github.com/putsecrets/putsecrets/standin/graph"
	"github.com/putsecrets/putsecrets/standin/host"
)

// The caller of the authorization tests: a Logic App's managed identity.
const (
	invokeRole = "PutSecrets.Invoke"
	callerOID  = "9c2e4b7a-1f3d-4e8b-a6c5-0d9f8e7b6a5c"
)

// TestCallerAuthorization: with PUTSECRETS_REQUIRED_ROLE set, an HTTP
// caller must carry the app role in its App Service Authentication principal
// (X-MS-CLIENT-PRINCIPAL), else 403 before anything is read or called;
// without the setting there is no check.
func TestCallerAuthorization(t *testing.T) {
	t.Parallel()
	const roleClaimType = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"
	tests := []struct {
		name      string
		role      string // PUTSECRETS_REQUIRED_ROLE
		principal *host.ClientPrincipal
		header    string // a raw X-MS-CLIENT-PRINCIPAL, as a caller could send without Easy Auth
		invalid   bool   // send an invalid request document
		status    int
		detail    []string
	}{
		{name: "no setting, no principal: no check", status: 200},
		{name: "no setting, a principal without roles: no check", principal: &host.ClientPrincipal{ID: callerOID}, status: 200},
		{
			name: "role present", role: invokeRole, status: 200,
			principal: &host.ClientPrincipal{ID: callerOID, Name: "la-onboard-scim", Roles: []string{invokeRole}},
		},
		{
			name: "role present among others", role: invokeRole, status: 200,
			principal: &host.ClientPrincipal{ID: callerOID, Roles: []string{"Reader", invokeRole}},
		},
		{
			name: "role missing: no principal reached the function", role: invokeRole, status: 403,
			detail: []string{invokeRole, "PUTSECRETS_REQUIRED_ROLE", "App Service Authentication", "require authentication"},
		},
		{
			name: "role missing: a principal without roles", role: invokeRole, status: 403,
			principal: &host.ClientPrincipal{ID: callerOID},
			detail:    []string{invokeRole, "object ID " + callerOID, "appRoleAssignments"},
		},
		{
			name: "role missing: another role", role: invokeRole, status: 403,
			principal: &host.ClientPrincipal{ID: callerOID, Roles: []string{"Reader"}},
			detail:    []string{invokeRole, "does not hold"},
		},
		{
			name: "role missing: the role in other casing", role: invokeRole, status: 403,
			principal: &host.ClientPrincipal{ID: callerOID, Roles: []string{strings.ToLower(invokeRole)}},
		},
		{
			name: "role missing: only as a claim of role_typ, not roles", role: invokeRole, status: 403,
			principal: &host.ClientPrincipal{ID: callerOID, Claims: []host.Claim{{Type: roleClaimType, Value: invokeRole}}},
		},
		{
			name: "role missing: an unreadable principal header", role: invokeRole, status: 403,
			header: "not-base64!", detail: []string{"could not be read"},
		},
		{
			name: "role missing and an invalid request: the role is checked first", role: invokeRole, status: 403,
			principal: &host.ClientPrincipal{ID: callerOID}, invalid: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := start(t, settings{"PUTSECRETS_REQUIRED_ROLE": tt.role})
			key := ""
			if tt.status == 200 {
				key = "SecretToken"
			}
			token := f.kvSecret("scim-token", key)
			d := doc(spID, uri("SecretToken", token))
			if tt.invalid {
				d["unknownField"] = true
			}
			res := f.http(d, func(r *host.HTTPRequest) {
				r.Principal = tt.principal
				if tt.header != "" {
					r.Headers["X-MS-CLIENT-PRINCIPAL"] = tt.header
				}
			})
			if tt.status == 200 {
				ok(t, res)
				f.expectSaved(spID, []graph.KeyValue{{Key: "SecretToken", Value: f.secretOf("scim-token")}})
				return
			}
			p := failed(t, res, tt.status)
			if p.Type != "urn:putsecrets:problem:refused-by-policy" {
				t.Errorf("type = %s, want refused-by-policy", p.Type)
			}
			for _, want := range tt.detail {
				if !strings.Contains(p.Detail, want) {
					t.Errorf("detail %q lacks %q", p.Detail, want)
				}
			}
			if n := len(f.env.KeyVault.Requests()) + len(f.env.Graph.Calls()) + len(f.env.Identity.Requests()); n != 0 {
				t.Errorf("a refused caller caused %d requests to Azure", n)
			}
		})
	}
}

// TestRequiredRoleLeavesTheQueueAlone: the role guards the HTTP function;
// who may send to the queue is Service Bus's access control.
func TestRequiredRoleLeavesTheQueueAlone(t *testing.T) {
	t.Parallel()
	f := start(t, settings{"PUTSECRETS_REQUIRED_ROLE": invokeRole})
	token := f.kvSecret("scim-token", "SecretToken")
	res := f.sb(doc(spID, uri("SecretToken", token)), host.Message{MessageID: "m-1"})
	if res.Failed {
		t.Fatalf("invocation failed: %s", res.Reason)
	}
	f.expectSaved(spID, []graph.KeyValue{{Key: "SecretToken", Value: f.secretOf("scim-token")}})
}

// TestAllowedServicePrincipals: with PUTSECRETS_ALLOWED_SERVICE_PRINCIPALS
// set, a request naming another service principal is refused (403) before any
// call, through either function; a listed one (in any casing) is served.
func TestAllowedServicePrincipals(t *testing.T) {
	t.Parallel()
	const otherSP = "0f0e0d0c-0b0a-4908-8706-050403020100"
	f := start(t, settings{"PUTSECRETS_ALLOWED_SERVICE_PRINCIPALS": strings.ToUpper(spID) + ",11111111-2222-4333-8444-555555555555"})
	f.env.Graph.AddServicePrincipal(otherSP)

	refused := f.kvSecret("refused", "")
	p := failed(t, f.http(doc(otherSP, uri("SecretToken", refused))), 403)
	if len(p.Errors) != 1 || p.Errors[0].Field != "servicePrincipalId" || !strings.Contains(p.Errors[0].Message, "PUTSECRETS_ALLOWED_SERVICE_PRINCIPALS") {
		t.Errorf("errors = %+v, want one for servicePrincipalId naming the setting", p.Errors)
	}
	if res := f.sb(doc(otherSP, uri("SecretToken", refused)), host.Message{MessageID: "m-1"}); !res.Failed {
		t.Error("the queue function accepted a service principal outside the allow-list")
	}
	if n := len(f.env.KeyVault.Requests()) + len(f.env.Graph.Calls()); n != 0 {
		t.Errorf("refused requests caused %d requests to Key Vault and Graph", n)
	}

	token := f.kvSecret("scim-token", "SecretToken")
	ok(t, f.http(doc(spID, uri("SecretToken", token))))
	f.expectSaved(spID, []graph.KeyValue{{Key: "SecretToken", Value: f.secretOf("scim-token")}})
	if got := f.env.Graph.Saved(otherSP); len(got) != 0 {
		t.Errorf("Graph saved %d keys for the refused service principal", len(got))
	}
}
