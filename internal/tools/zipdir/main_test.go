package main

import (
	"archive/zip"
	"encoding/json"
	"io"
	"path/filepath"
	"testing"
)

// TestSessions packages the repository's function folders with and without
// -sessions and reads the Service Bus trigger back.
func TestSessions(t *testing.T) {
	for _, on := range []bool{false, true} {
		sessions = on
		out := filepath.Join(t.TempDir(), "app.zip")
		if err := write(out, []string{"../../../PutSecrets", "../../../PutSecretsFromQueue", "../../../PutSecretsFromKeyVault"}); err != nil {
			t.Fatal(err)
		}
		zr, err := zip.OpenReader(out)
		if err != nil {
			t.Fatal(err)
		}
		found := 0
		for _, f := range zr.File {
			if filepath.Base(f.Name) != "function.json" {
				continue
			}
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
			var fj struct {
				Bindings []map[string]any `json:"bindings"`
			}
			if err := json.Unmarshal(b, &fj); err != nil {
				t.Fatalf("%s: %v", f.Name, err)
			}
			for _, binding := range fj.Bindings {
				got, has := binding["isSessionsEnabled"]
				switch {
				case binding["type"] == "serviceBusTrigger" && binding["queueName"] == "%PUTSECRETS_EVENTS_QUEUE%":
					// Event Grid cannot deliver to a session-enabled queue.
					found++
					if got != false {
						t.Errorf("-sessions=%v: %s trigger isSessionsEnabled = %v, want false always", on, f.Name, got)
					}
				case binding["type"] == "serviceBusTrigger":
					found++
					if on && got != true || !on && has {
						t.Errorf("-sessions=%v: %s trigger isSessionsEnabled = %v", on, f.Name, got)
					}
					if binding["queueName"] != "%PUTSECRETS_QUEUE%" || binding["connection"] != "ServiceBusConnection" || binding["name"] != "message" {
						t.Errorf("%s: the trigger lost its settings: %v", f.Name, binding)
					}
				case has:
					t.Errorf("%s: a %v binding got isSessionsEnabled", f.Name, binding["type"])
				}
			}
		}
		zr.Close()
		if found != 2 {
			t.Errorf("-sessions=%v: %d Service Bus triggers packaged, want 2", on, found)
		}
	}
	sessions = false
}
