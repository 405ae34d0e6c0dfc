package invariants

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeAz stands in for the Azure CLI: `az rest` GET prints the owner IDs kept
// in $FAKE_AZ_STATE, POST adds OWNER_ID, DELETE removes it; every call is
// appended to $FAKE_AZ_LOG.
const fakeAz = `#!/bin/sh
echo "$*" >>"$FAKE_AZ_LOG"
case "$*" in
*"--method get"*) cat "$FAKE_AZ_STATE" ;;
*"--method post"*) echo "$OWNER_ID" >>"$FAKE_AZ_STATE" ;;
*"--method delete"*) grep -v "$OWNER_ID" "$FAKE_AZ_STATE" >"$FAKE_AZ_STATE.new" || true; mv "$FAKE_AZ_STATE.new" "$FAKE_AZ_STATE" ;;
*) echo "fake az: unexpected $*" >&2; exit 1 ;;
esac
`

// TestServicePrincipalOwnerScript runs graph-permissions' owner script
// against a fake az: adding and removing are idempotent and go to the
// right Graph URLs.
func TestServicePrincipalOwnerScript(t *testing.T) {
	t.Parallel()
	script, err := filepath.Abs(filepath.Join(graphDir, "scripts", "service-principal-owner.sh"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir() // state and log; the fake az is TestMain's
	state := filepath.Join(dir, "owners")
	log := filepath.Join(dir, "calls")
	if err := os.WriteFile(state, []byte("11111111-1111-1111-1111-111111111111\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const sp, owner = "6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c", "00000000-0000-0000-0000-0000000000a1"

	run := func(action string) string {
		t.Helper()
		cmd := exec.Command("/bin/sh", script, action)
		cmd.Env = append(os.Environ(),
			"PATH="+fakeBins["owner"]+string(os.PathListSeparator)+os.Getenv("PATH"),
			"FAKE_AZ_STATE="+state, "FAKE_AZ_LOG="+log,
			"SERVICE_PRINCIPAL_ID="+sp, "OWNER_ID="+owner, "GRAPH_ENDPOINT=https://graph.microsoft.com")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", action, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	calls := func() []string {
		t.Helper()
		b, err := os.ReadFile(log)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Split(strings.TrimSpace(string(b)), "\n")
	}
	count := func(method string) int {
		n := 0
		for _, c := range calls() {
			if strings.Contains(c, "--method "+method) {
				n++
			}
		}
		return n
	}

	if got, want := run("add"), "added owner "+owner; !strings.Contains(got, want) {
		t.Errorf("first add: got %q, want it to contain %q", got, want)
	}
	if got, want := run("add"), "already an owner"; !strings.Contains(got, want) {
		t.Errorf("second add: got %q, want it to contain %q", got, want)
	}
	if got := count("post"); got != 1 {
		t.Errorf("got %d POSTs after two adds, want 1", got)
	}
	for _, c := range calls() {
		if strings.Contains(c, "--method post") {
			if !strings.Contains(c, "https://graph.microsoft.com/v1.0/servicePrincipals/"+sp+"/owners/$ref") ||
				!strings.Contains(c, `"@odata.id":"https://graph.microsoft.com/v1.0/directoryObjects/`+owner+`"`) {
				t.Errorf("POST call %q does not add %s to %s's owners", c, owner, sp)
			}
		}
	}

	if got, want := run("remove"), "removed owner "+owner; !strings.Contains(got, want) {
		t.Errorf("first remove: got %q, want it to contain %q", got, want)
	}
	if got, want := run("remove"), "is not an owner"; !strings.Contains(got, want) {
		t.Errorf("second remove: got %q, want it to contain %q", got, want)
	}
	if got := count("delete"); got != 1 {
		t.Errorf("got %d DELETEs after two removes, want 1", got)
	}
	b, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.TrimSpace(string(b)), "11111111-1111-1111-1111-111111111111"; got != want {
		t.Errorf("owners after remove: got %q, want only the other owner %q", got, want)
	}
}
