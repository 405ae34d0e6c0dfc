package provision_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/putsecrets/putsecrets/internal/problem"
	"github.com/putsecrets/putsecrets/internal/provision"
	"github.com/putsecrets/putsecrets/internal/request"
	"github.com/putsecrets/putsecrets/internal/state"
)

// memStates is an in-memory provision.States that records its calls and can
// fail them; the real store runs against Azurite in internal/state and e2e.
type memStates struct {
	mu    sync.Mutex
	kept  map[string]*state.Kept
	calls []string
	fail  map[string]error // by operation: "get", "put", "replace", "delete"
}

func newMemStates() *memStates {
	return &memStates{kept: map[string]*state.Kept{}, fail: map[string]error{}}
}

func (m *memStates) record(op string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls = append(m.calls, op)
	return m.fail[op]
}

func (m *memStates) Get(_ context.Context, id string) (*state.Kept, error) {
	if err := m.record("get"); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.kept[id]
	if !ok {
		return nil, state.ErrNotFound
	}
	return k, nil
}

func (m *memStates) Put(_ context.Context, k *state.Kept) error {
	if err := m.record("put"); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.kept[k.ServicePrincipalID] = k
	return nil
}

func (m *memStates) Replace(_ context.Context, k *state.Kept) (bool, error) {
	if err := m.record("replace"); err != nil {
		return false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.kept[k.ServicePrincipalID]; !ok {
		return false, nil
	}
	m.kept[k.ServicePrincipalID] = k
	return true, nil
}

func (m *memStates) Delete(_ context.Context, id string) error {
	if err := m.record("delete"); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.kept, id)
	return nil
}

// followDoc is a request with a literal BaseAddress and SyncAll (no
// credential, so follow: true is allowed without Key Vault) plus extra.
func followDoc(extra string) []byte {
	return []byte(`{"servicePrincipalId":"` + spID + `","secrets":[` +
		`{"key":"BaseAddress","value":"https://scim.example.com/scim/v2"},{"key":"SyncAll","value":false}]` + extra + `}`)
}

// storageError is what azblob returns for a refused request.
func storageError(status int, code string) error {
	h := http.Header{}
	h.Set("x-ms-request-id", "storage-request-1")
	return &azcore.ResponseError{StatusCode: status, ErrorCode: code, RawResponse: &http.Response{StatusCode: status, Header: h}}
}

func TestPutFollow(t *testing.T) {
	t.Parallel()
	previous := &state.Kept{ServicePrincipalID: spID, Document: json.RawMessage(`{"old":true}`), SavedAt: time.Unix(1, 0)}
	tests := []struct {
		name         string
		body         []byte
		kept         bool // a state is kept before
		fail         map[string]error
		wantCalls    []string
		wantFollowed bool
		wantKept     bool // a state is kept after
		wantStatus   int  // 0: success
		wantSaved    bool
		wantDetail   string
	}{
		{name: "follow true keeps", body: followDoc(`,"follow":true`), wantCalls: []string{"put"}, wantFollowed: true, wantKept: true, wantSaved: true},
		{name: "follow true replaces", body: followDoc(`,"follow":true`), kept: true, wantCalls: []string{"put"}, wantFollowed: true, wantKept: true, wantSaved: true},
		{name: "follow false forgets", body: followDoc(`,"follow":false`), kept: true, wantCalls: []string{"delete"}, wantSaved: true},
		{name: "follow false without a state", body: followDoc(`,"follow":false`), wantCalls: []string{"delete"}, wantSaved: true},
		{name: "absent replaces a kept state", body: followDoc(``), kept: true, wantCalls: []string{"replace"}, wantFollowed: true, wantKept: true, wantSaved: true},
		{name: "absent keeps nothing new", body: followDoc(``), wantCalls: []string{"replace"}, wantSaved: true},
		{name: "dry run keeps nothing", body: followDoc(`,"follow":true,"dryRun":true`), wantCalls: nil},
		{name: "dry run forgets nothing", body: followDoc(`,"follow":false,"dryRun":true`), kept: true, wantCalls: nil, wantKept: true},
		{name: "a refused request touches no state", body: []byte(`{"servicePrincipalId":"` + spID + `","secrets":[],"follow":true}`), wantStatus: 400},

		// After the save, a state failure is a 503 that says the secrets were saved.
		{name: "the job follow-up fails: nothing kept", body: followDoc(`,"follow":true,"job":{"id":"nope","action":"start"}`),
			wantCalls: nil, wantStatus: 404, wantSaved: true, wantDetail: "but the job follow-up failed"},
		{name: "keep fails", body: followDoc(`,"follow":true`), fail: map[string]error{"put": storageError(503, "ServerBusy")},
			wantCalls: []string{"put"}, wantStatus: 503, wantSaved: true, wantDetail: "The secrets were saved (Graph request-id "},
		{name: "keep refused", body: followDoc(`,"follow":true`), fail: map[string]error{"put": storageError(403, "AuthorizationPermissionMismatch")},
			wantCalls: []string{"put"}, wantStatus: 503, wantSaved: true, wantDetail: "Storage Blob Data Contributor"},
		{name: "forget fails", body: followDoc(`,"follow":false`), kept: true, fail: map[string]error{"delete": errors.New("connection reset")},
			wantCalls: []string{"delete"}, wantStatus: 503, wantSaved: true, wantKept: true, wantDetail: "could not be forgotten"},
		{name: "replace: the store fails", body: followDoc(``), kept: true, fail: map[string]error{"replace": storageError(500, "InternalError")},
			wantCalls: []string{"replace"}, wantStatus: 503, wantSaved: true, wantKept: true, wantDetail: "could not be replaced"},
		{name: "replace: the write is refused", body: followDoc(``), kept: true, fail: map[string]error{"replace": storageError(412, "ConditionNotMet")},
			wantCalls: []string{"replace"}, wantStatus: 503, wantSaved: true, wantKept: true, wantDetail: "answered 412 ConditionNotMet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st := newMemStates()
			if tt.kept {
				st.kept[spID] = previous
			}
			for op, err := range tt.fail {
				st.fail[op] = err
			}
			pol := &request.Policy{KeyVaultSuffix: "vault.azure.net", StateStore: true}
			svc, g := setupWith(t, provision.Options{States: st}, pol)
			res, err := svc.Put(t.Context(), tt.body)
			if saved := g.Saved(spID) != nil; saved != tt.wantSaved {
				t.Errorf("saved = %v, want %v", saved, tt.wantSaved)
			}
			if strings.Join(st.calls, ",") != strings.Join(tt.wantCalls, ",") {
				t.Errorf("state calls = %v, want %v", st.calls, tt.wantCalls)
			}
			if _, ok := st.kept[spID]; ok != tt.wantKept {
				t.Errorf("kept afterwards = %v, want %v", ok, tt.wantKept)
			}
			if tt.wantStatus != 0 {
				if err == nil {
					t.Fatalf("Put() = %+v, want status %d", res, tt.wantStatus)
				}
				p := problem.From(err)
				if p.Status != tt.wantStatus || !strings.Contains(p.Doc.Detail, tt.wantDetail) {
					t.Errorf("problem = %d %q, want %d containing %q", p.Status, p.Doc.Detail, tt.wantStatus, tt.wantDetail)
				}
				if tt.fail != nil && (p.Doc.Dependency == nil || p.Doc.Dependency.Service != "storage") {
					t.Errorf("dependency = %+v, want storage", p.Doc.Dependency)
				}
				if tt.wantSaved && !strings.Contains(p.Doc.Detail, res.GraphRequestID) {
					t.Errorf("detail %q does not name the save's request-id %s", p.Doc.Detail, res.GraphRequestID)
				}
				return
			}
			if err != nil {
				t.Fatalf("Put() error = %v", err)
			}
			if res.Followed != tt.wantFollowed {
				t.Errorf("Followed = %v, want %v", res.Followed, tt.wantFollowed)
			}
			if !tt.wantFollowed {
				return
			}
			k := st.kept[spID]
			if string(k.Document) != string(tt.body) || k.GraphRequestID != res.GraphRequestID || k.GraphRequestID == "" ||
				k.SavedAt.IsZero() || k.SavedAt.Location() != time.UTC || len(k.References) != 0 {
				t.Errorf("kept = %+v; want the document as given, request-id %s, a UTC time, no references", k, res.GraphRequestID)
			}
		})
	}
}

// TestPutLiteralCredentialForFollowed: without follow, a literal credential
// (the policy allows them) is refused for a followed service principal before
// anything is sent, and allowed for one that is not followed.
func TestPutLiteralCredentialForFollowed(t *testing.T) {
	t.Parallel()
	pol := &request.Policy{KeyVaultSuffix: "vault.azure.net", StateStore: true, AllowLiteralCredentials: true}
	t.Run("followed", func(t *testing.T) {
		t.Parallel()
		st := newMemStates()
		st.kept[spID] = &state.Kept{ServicePrincipalID: spID}
		svc, g := setupWith(t, provision.Options{States: st}, pol)
		_, err := svc.Put(t.Context(), document(""))
		p := problem.From(err)
		if p.Status != 403 || len(p.Doc.Errors) != 1 || p.Doc.Errors[0].Field != "secrets[1].value" ||
			!strings.Contains(p.Doc.Errors[0].Message, "follow: false") {
			t.Errorf("problem = %d %+v, want 403 at secrets[1].value naming follow: false", p.Status, p.Doc)
		}
		if len(g.Calls()) != 0 || strings.Join(st.calls, ",") != "get" {
			t.Errorf("Graph calls %v, state calls %v; want none and one get", calls(g), st.calls)
		}
	})
	t.Run("not followed", func(t *testing.T) {
		t.Parallel()
		st := newMemStates()
		svc, g := setupWith(t, provision.Options{States: st}, pol)
		res, err := svc.Put(t.Context(), document(""))
		if err != nil || res.Followed || g.Saved(spID) == nil {
			t.Fatalf("Put() = %+v, %v; want saved, not followed", res, err)
		}
		if strings.Join(st.calls, ",") != "get,replace" || len(st.kept) != 0 {
			t.Errorf("state calls %v, kept %d; want get (check), replace (mirror), nothing kept", st.calls, len(st.kept))
		}
	})
	t.Run("the check cannot read the store", func(t *testing.T) {
		t.Parallel()
		st := newMemStates()
		st.fail["get"] = storageError(503, "ServerBusy")
		svc, g := setupWith(t, provision.Options{States: st}, pol)
		_, err := svc.Put(t.Context(), document(""))
		p := problem.From(err)
		if p.Status != 503 || !strings.Contains(p.Doc.Detail, "nothing was saved") || len(g.Calls()) != 0 {
			t.Errorf("problem = %d %q, Graph calls %v; want 503 saying nothing was saved, no call", p.Status, p.Doc.Detail, calls(g))
		}
	})
	t.Run("no store", func(t *testing.T) {
		t.Parallel()
		svc, g := setupWith(t, provision.Options{}, &request.Policy{KeyVaultSuffix: "vault.azure.net", AllowLiteralCredentials: true})
		if res, err := svc.Put(t.Context(), document("")); err != nil || res.Followed || g.Saved(spID) == nil {
			t.Fatalf("Put() = %+v, %v; want saved", res, err)
		}
	})
}
