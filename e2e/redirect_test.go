package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/putsecrets/putsecrets/standin/graph"
	"github.com/putsecrets/putsecrets/standin/identity"
	"github.com/putsecrets/putsecrets/standin/keyvault"
	"github.com/putsecrets/putsecrets/standin/proxy"
)

// elsewhereHost is the host the redirect rows point to: a real TLS host
// behind the proxy, with a certificate from the fake Azure's CA, so that a
// handler that followed a redirect would reach it and be recorded.
const elsewhereHost = "elsewhere.example"

// elsewhere is that host; it records every request that reaches it (never
// its body, which could hold a value) and answers as a success would.
type elsewhere struct {
	srv *httptest.Server
	env interface{ Connects() []string }

	mu    sync.Mutex
	calls []string
}

// startElsewhere brings the other host up and routes elsewhereHost to it.
func startElsewhere(f *fixture) *elsewhere {
	f.t.Helper()
	e := &elsewhere{env: f.env.Proxy}
	cfg, err := f.env.CA.ServerConfig(elsewhereHost)
	if err != nil {
		f.t.Fatal(err)
	}
	e.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		e.mu.Lock()
		e.calls = append(e.calls, fmt.Sprintf("%s %s (%d body bytes)", r.Method, r.URL.Path, n))
		e.mu.Unlock()
		if strings.Contains(r.URL.Path, "/msi/") {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"access_token":"elsewhere","expires_on":"4102444800","resource":"`+r.URL.Query().Get("resource")+`","token_type":"Bearer"}`)
			return
		}
		if r.Method == http.MethodGet {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"value":"another host's value","id":"https://`+elsewhereHost+r.URL.Path+`/0"}`)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	e.srv.TLS = cfg
	e.srv.StartTLS()
	f.t.Cleanup(e.srv.Close)
	f.env.Proxy.AddRoute(proxy.Route{Suffix: elsewhereHost, Addr: e.srv.Listener.Addr().String()})
	return e
}

// url is an https URL on the other host, with a query string that must
// never be quoted back.
func (e *elsewhere) url(path string) string {
	return "https://" + elsewhereHost + path + "?sig=location-query-must-not-show"
}

// expectUntouched checks that nothing reached the other host: no request,
// and no CONNECT through the proxy.
func (e *elsewhere) expectUntouched(t *testing.T) {
	t.Helper()
	e.mu.Lock()
	calls := append([]string(nil), e.calls...)
	e.mu.Unlock()
	if len(calls) != 0 {
		t.Errorf("the other host got %d requests: %v", len(calls), calls)
	}
	for _, c := range e.env.Connects() {
		if strings.HasPrefix(c, elsewhereHost) {
			t.Errorf("the proxy was asked to CONNECT to %s", c)
		}
	}
}

// redirected checks the caller's answer to a refused redirect: 502, the
// dependency and its 3xx, and a detail naming the status and the host it
// pointed to, never the Location's query string.
func redirected(t *testing.T, p problemDoc, service string, status int) {
	t.Helper()
	if p.Dependency == nil || p.Dependency.Service != service || p.Dependency.Status != status {
		t.Errorf("dependency = %+v, want %s %d", p.Dependency, service, status)
	}
	lacks(t, "detail", p.Detail, fmt.Sprint(status), http.StatusText(status), elsewhereHost, "follows no redirect")
	if strings.Contains(p.Detail, "location-query") {
		t.Errorf("detail %q quotes the Location's query string", p.Detail)
	}
}

// TestRedirectsNotFollowed: a redirect from Graph (the PUT, with the
// statuses that keep the body and those that do not; validateCredentials; a
// job call after the save) or from Key Vault is refused: the caller gets
// 502 naming the status and the other host, nothing is saved, and the other
// host sees no request. The rows share one handler, each with its own
// service principal.
func TestRedirectsNotFollowed(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	other := startElsewhere(f)
	f.kvSecret("scim-token", "")
	graphPath := func(sp string) string { return "/v1.0/servicePrincipals/" + sp + "/synchronization/secrets" }
	type row struct {
		name    string
		status  int
		service string
		// script sets the fault for sp; doc is the request.
		script func(sp string)
		doc    func(sp string) any
		// saved: the secrets were saved before the redirect (a job call).
		saved bool
	}
	literalDoc := func(sp string) any { return doc(sp, literal("BaseAddress", f.literal("BaseAddress"))) }
	var rows []row
	for _, status := range []int{307, 308, 301, 302, 303} {
		rows = append(rows, row{
			name: fmt.Sprintf("Graph PUT %d", status), status: status, service: "graph", doc: literalDoc,
			script: func(sp string) {
				f.env.Graph.Script(sp, graph.Response{Status: status, Location: other.url(graphPath(sp))})
			},
		})
	}
	rows = append(rows,
		row{
			name: "Graph validateCredentials 307", status: 307, service: "graph",
			script: func(sp string) {
				f.env.Graph.Script(sp, graph.Response{Status: 307, Location: other.url("/v1.0/servicePrincipals/" + sp + "/synchronization/jobs/validateCredentials")})
			},
			doc: func(sp string) any {
				d := literalDoc(sp).(map[string]any)
				d["validate"] = map[string]any{"templateId": "scim"}
				return d
			},
		},
		row{
			name: "Graph job call after the save 308", status: 308, service: "graph", saved: true,
			script: func(sp string) {
				f.env.Graph.AddJob(sp, graph.Job{ID: jobID, TemplateID: "scim", State: graph.JobState{Code: graph.StatusPaused}})
				// The PUT is served normally; the job read that follows redirects.
				f.env.Graph.Script(sp, graph.Response{}, graph.Response{Status: 308, Location: other.url("/v1.0/servicePrincipals/" + sp + "/synchronization/jobs")})
			},
			doc: func(sp string) any {
				d := doc(sp, literal("BaseAddress", "https://scim.example.com/scim/v2"))
				d["job"] = map[string]any{"id": jobID, "action": "start"}
				return d
			},
		},
		row{
			name: "Key Vault GET 307", status: 307, service: "keyVault",
			script: func(string) {
				f.env.KeyVault.Script(f.vaultHost(vault), "scim-token", keyvault.Fault{Status: 307, Location: other.url("/secrets/scim-token")})
			},
			doc: func(sp string) any {
				return doc(sp, uri("SecretToken", "https://"+f.vaultHost(vault)+"/secrets/scim-token"))
			},
		},
	)
	for i, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			sp := fmt.Sprintf("6a9b2c1e-5f4d-4e3a-9b8c-%012d", i+1)
			f.env.Graph.AddServicePrincipal(sp)
			r.script(sp)
			p := failed(t, f.http(r.doc(sp)), 502)
			redirected(t, p, r.service, r.status)
			switch saved := f.env.Graph.Saved(sp); {
			case r.saved && saved == nil:
				t.Error("the PUT before the job call was not saved")
			case r.saved:
				lacks(t, "detail", p.Detail, "The secrets were saved")
			case saved != nil:
				t.Errorf("Graph saved %d keys after a redirect", len(saved))
			}
			if r.service == "keyVault" {
				for _, c := range f.env.Graph.Calls() {
					if strings.Contains(c.Path, sp) {
						t.Errorf("Graph was called (%s %s) although the secret could not be read", c.Method, c.Path)
					}
				}
			}
			other.expectUntouched(t)
		})
	}
}

// TestIdentityRedirectNotFollowed: a redirect from the managed identity
// endpoint is refused too: without the shared client, azidentity would
// follow it and send X-IDENTITY-HEADER to the other host. Its own handler:
// a handler's token cache is process-wide.
func TestIdentityRedirectNotFollowed(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	other := startElsewhere(f)
	mustFault(f, identity.Fault{Kind: identity.FaultStatus, Status: 307, Location: other.url("/msi/token")})
	p := failed(t, f.http(doc(spID, uri("SecretToken", f.kvSecret("scim-token", "")))), 502)
	redirected(t, p, "managedIdentity", 307)
	if saved := f.env.Graph.Saved(spID); saved != nil {
		t.Errorf("Graph saved %d keys", len(saved))
	}
	if n := len(f.env.Graph.Calls()); n != 0 {
		t.Errorf("Graph got %d calls without a token", n)
	}
	var tries int
	for _, r := range f.env.Identity.Requests() {
		if r.Status == 307 {
			tries++
		}
	}
	if tries != 1 {
		t.Errorf("the identity endpoint answered %d redirects, want 1 (a redirect is not retried)", tries)
	}
	other.expectUntouched(t)
}
