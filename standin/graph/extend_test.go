package graph

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/putsecrets/putsecrets/standin/identity"
	"github.com/putsecrets/putsecrets/standin/tlsca"
)

// fakeTokens grants "tok" for Graph in the public cloud.
type fakeTokens struct{}

func (fakeTokens) Grant(token string) (identity.Grant, bool) {
	return identity.Grant{Resource: "https://graph.microsoft.com"}, token == "tok"
}

// TestAddingARoute shows how an endpoint plugs in (provisionOnDemand, which
// the stand-in does not serve): a handler that uses
// readJSON, listed on the mux behind s.sp, gets authentication, version and
// service principal checks and scripted responses for free.
func TestAddingARoute(t *testing.T) {
	t.Parallel()
	ca, err := tlsca.New()
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(ca, fakeTokens{})
	if err != nil {
		t.Fatal(err)
	}
	const sp = "6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c"
	s.AddServicePrincipal(sp)
	var gotRule string
	s.mux.Handle("POST /{version}/serviceprincipals/{id}/synchronization/jobs/{job}/provisionondemand", s.sp(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Parameters []struct {
				RuleID string `json:"ruleId"`
			} `json:"parameters"`
		}
		if !readJSON(w, r, &body) || len(body.Parameters) != 1 {
			return
		}
		gotRule = body.Parameters[0].RuleID
		w.WriteHeader(http.StatusNoContent)
	}))
	s.Script(sp, Response{Status: 409})

	path := "/v1.0/servicePrincipals/" + sp + "/synchronization/jobs/scim.1/provisionOnDemand"
	const body = `{"parameters":[{"ruleId":"r1"}]}`
	tests := []struct {
		name, contentType, body, token string
		wantStatus                     int
		wantCode                       string
	}{
		{"scripted 409 first", "application/json", body, "tok", 409, "Conflict"},
		{"no token", "application/json", body, "", 401, "InvalidAuthenticationToken"},
		{"unreadable body", "text/plain", body, "tok", 400, "BadRequest"},
		{"served", "application/json", body, "tok", 204, ""},
	}
	for _, tt := range tests {
		req := httptest.NewRequest("POST", "https://graph.microsoft.com"+path, strings.NewReader(tt.body))
		req.Header.Set("Content-Type", tt.contentType)
		if tt.token != "" {
			req.Header.Set("Authorization", "Bearer "+tt.token)
		}
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != tt.wantStatus {
			t.Errorf("%s: status %d, want %d: %s", tt.name, rec.Code, tt.wantStatus, rec.Body)
			continue
		}
		if tt.wantCode != "" {
			var doc errorDoc
			if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil || doc.Error.Code != tt.wantCode {
				t.Errorf("%s: error %s (%v), want code %s", tt.name, rec.Body, err, tt.wantCode)
			}
		}
	}
	if gotRule != "r1" {
		t.Errorf("handler saw ruleId %q", gotRule)
	}
	if n := len(s.Calls()); n != len(tests) {
		t.Errorf("recorded %d calls, want %d", n, len(tests))
	}
}
