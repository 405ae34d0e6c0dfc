package kvevent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/putsecrets/putsecrets/internal/request"
)

// FuzzDecode checks that Decode never panics, that what it accepts as ours
// names a versioned secret under the suffix that reads back the same, and
// that its errors do not repeat data.Id.
func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(eventGrid(SecretNewVersionCreated, `{" iD ":" `+testURI+`","nbf":" 1 "}`)))
	f.Add([]byte(`{"specversion":"1.0","id":"x","type":"` + SecretExpired + `","data":"{\"Id\":5}"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		e, err := Decode(body, suffix)
		if err != nil {
			return
		}
		if e.ID == "" || e.Type == "" {
			t.Fatalf("accepted an event without id or type: %+v", e)
		}
		if !e.Ours() {
			if e.Vault != "" || e.Name != "" || e.Version != "" {
				t.Fatalf("an event not ours carries a secret: %+v", e)
			}
			return
		}
		if !strings.HasSuffix(e.Vault, "."+suffix) || e.Version == "" {
			t.Fatalf("accepted %+v", e)
		}
		ref, err := request.ParseSecretURI("https://"+e.Vault+"/secrets/"+e.Name+"/"+e.Version, suffix)
		if err != nil || ref.Host != e.Vault || ref.Name != e.Name || ref.Version != e.Version {
			t.Fatalf("the decoded secret does not read back: %+v, %+v, %v", e, ref, err)
		}
	})
}
