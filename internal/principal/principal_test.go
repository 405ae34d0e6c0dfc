package principal

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const role = "PutSecrets.Invoke"

// encoded returns testdata/name as the platform sends it.
func encoded(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		header    func(t testing.TB) string
		wantErr   error
		wantRoles []string
		wantOID   string
		hasRole   bool
	}{
		{
			name:      "a Logic App's managed identity with the app role",
			header:    func(t testing.TB) string { return encoded(t, "logic-app-managed-identity.json") },
			wantRoles: []string{role}, wantOID: "9c2e4b7a-1f3d-4e8b-a6c5-0d9f8e7b6a5c", hasRole: true,
		},
		{
			name:    "a signed-in user without roles",
			header:  func(t testing.TB) string { return encoded(t, "user-without-roles.json") },
			wantOID: "2b4f6d8e-0a1c-4e3f-8a5b-7c9d1e2f3a4b",
		},
		{
			name: "several roles, one repeated; a role_typ claim and wids grant nothing",
			header: func(t testing.TB) string {
				return encoded(t, "several-roles.json")
			},
			wantRoles: []string{"Reader", role}, wantOID: "5e7a9c1b-3d2f-4a6e-8b0c-9d1e2f3a4b5c", hasRole: true,
		},
		{
			name: "the emulator's header, unpadded",
			header: func(t testing.TB) string {
				return strings.TrimRight(encoded(t, "emulator.json"), "=")
			},
			wantRoles: []string{role}, wantOID: "9c2e4b7a-1f3d-4e8b-a6c5-0d9f8e7b6a5c", hasRole: true,
		},
		{
			name: "role values compare exactly",
			header: func(testing.TB) string {
				return b64(`{"auth_typ":"aad","claims":[{"typ":"roles","val":"putsecrets.invoke"},{"typ":"Roles","val":"PutSecrets.Invoke"}]}`)
			},
			wantRoles: []string{"putsecrets.invoke"},
		},
		{name: "empty", header: func(testing.TB) string { return "  " }, wantErr: ErrMissing},
		{name: "not base64", header: func(testing.TB) string { return "{not base64}" }, wantErr: ErrMalformed},
		{name: "not JSON", header: func(testing.TB) string { return b64("aad") }, wantErr: ErrMalformed},
		{name: "JSON array", header: func(testing.TB) string { return b64(`[{"auth_typ":"aad"}]`) }, wantErr: ErrMalformed},
		{name: "no auth_typ", header: func(testing.TB) string { return b64(`{"claims":[{"typ":"roles","val":"` + role + `"}]}`) }, wantErr: ErrMalformed},
		{name: "claim value not a string", header: func(testing.TB) string {
			return b64(`{"auth_typ":"aad","claims":[{"typ":"roles","val":["` + role + `"]}]}`)
		}, wantErr: ErrMalformed},
		{name: "two documents", header: func(testing.TB) string { return b64(`{"auth_typ":"aad"}{"auth_typ":"aad"}`) }, wantErr: ErrMalformed},
		{name: "too long", header: func(testing.TB) string { return strings.Repeat("A", MaxHeaderBytes+4) }, wantErr: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := Parse(tt.header(t))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || p != nil {
					t.Fatalf("Parse = %v, %v; want error %v", p, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(tt.wantRoles, p.Roles()); diff != "" {
				t.Errorf("Roles (-want +got):\n%s", diff)
			}
			if got := p.ObjectID(); got != tt.wantOID {
				t.Errorf("ObjectID = %q, want %q", got, tt.wantOID)
			}
			if got := p.HasRole(role); got != tt.hasRole {
				t.Errorf("HasRole(%q) = %v, want %v", role, got, tt.hasRole)
			}
			if p.HasRole("") {
				t.Error(`HasRole("") is true`)
			}
		})
	}
}

func TestFromHeaders(t *testing.T) {
	t.Parallel()
	good := encoded(t, "emulator.json")
	tests := []struct {
		name    string
		values  []string
		wantErr error
	}{
		{"absent", nil, ErrMissing},
		{"once", []string{good}, nil},
		{"twice: a forged header beside the platform's", []string{b64(`{"auth_typ":"aad","claims":[{"typ":"roles","val":"` + role + `"}]}`), good}, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			for _, v := range tt.values {
				h.Add("x-ms-client-principal", v) // any casing, as the host forwards it
			}
			_, err := FromHeaders(h)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("FromHeaders = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// FuzzParse feeds arbitrary header values to Parse. It must not panic; a
// refusal is ErrMissing or ErrMalformed; an accepted principal has an
// auth_typ, HasRole agrees with Roles, and the principal written back in the
// platform's form reads back the same.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(base64.StdEncoding.EncodeToString(b))
		f.Add(string(b))
	}
	f.Add(b64(`{"auth_typ":"aad","claims":null}`))
	f.Add(b64(`{"auth_typ":"aad","claims":[{"typ":"roles","val":"a"},{"typ":"roles","val":""}]} `))
	f.Add("e30")
	f.Fuzz(func(t *testing.T, header string) {
		p, err := Parse(header)
		if err != nil {
			if p != nil {
				t.Fatal("Parse returned a principal and an error")
			}
			if !errors.Is(err, ErrMissing) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("Parse error %v is neither ErrMissing nor ErrMalformed", err)
			}
			return
		}
		if p.AuthType == "" {
			t.Fatal("accepted a principal without auth_typ")
		}
		seen := map[string]bool{}
		for _, r := range p.Roles() {
			if !p.HasRole(r) {
				t.Fatalf("Roles lists %q, HasRole denies it", r)
			}
			if seen[r] {
				t.Fatalf("Roles repeats %q", r)
			}
			seen[r] = true
		}
		again, err := json.Marshal(p)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		back, err := Parse(base64.StdEncoding.EncodeToString(again))
		if err != nil {
			t.Fatalf("re-encoded principal refused: %v", err)
		}
		if diff := cmp.Diff(p, back); diff != "" {
			t.Fatalf("round trip changed the principal (-first +second):\n%s", diff)
		}
	})
}
