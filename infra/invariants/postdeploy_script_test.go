package invariants

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeDeployAz stands in for the Azure CLI in the post-deploy checks.
// `function keys list` fails $FAKE_AZ_KEYS_FAILURES times (counted in
// $FAKE_AZ_COUNT) before printing 1, or always with "always"; `appsettings
// list` prints $FAKE_AZ_WEBJOBS. Every call is appended to $FAKE_AZ_LOG.
const fakeDeployAz = `#!/bin/sh
echo "$*" >>"$FAKE_AZ_LOG"
case "$*" in
*"function keys list"*)
	n=$(cat "$FAKE_AZ_COUNT" 2>/dev/null || echo 0); n=$((n + 1)); echo "$n" >"$FAKE_AZ_COUNT"
	if [ "$FAKE_AZ_KEYS_FAILURES" = always ] || [ "$n" -le "$FAKE_AZ_KEYS_FAILURES" ]; then
		echo "ERROR: Operation returned an invalid status 'Bad Request'" >&2; exit 1
	fi
	echo 1 ;;
*"config appsettings list"*) printf '%s\n' "$FAKE_AZ_WEBJOBS" ;;
*) echo "fake az: unexpected $*" >&2; exit 1 ;;
esac
`

// fakeTF stands in for terraform: `output -raw graph_app_role` prints
// $FAKE_TF_ROLE, `output -json owned_service_principal_ids` $FAKE_TF_OWNED.
const fakeTF = `#!/bin/sh
case "$*" in
*"output -raw graph_app_role"*) printf '%s' "$FAKE_TF_ROLE" ;;
*"output -json owned_service_principal_ids"*) printf '%s\n' "$FAKE_TF_OWNED" ;;
*) echo "fake tf: unexpected $*" >&2; exit 1 ;;
esac
`

// TestPostDeployChecks runs infra/scripts/postdeploy-check.sh, which make
// deploy and the azd hook both run, against a fake az and terraform.
func TestPostDeployChecks(t *testing.T) {
	t.Parallel()
	script, err := filepath.Abs(filepath.Join(mainDir, "scripts", "postdeploy-check.sh"))
	if err != nil {
		t.Fatal(err)
	}
	const principal = "00000000-0000-0000-0000-0000000000a1"
	tests := []struct {
		name     string
		args     []string
		env      []string
		wantFail bool
		want     []string // in the combined output
		notWant  []string
		keyCalls int // function keys list calls, when checked
	}{
		{name: "host lists keys at once", args: []string{"function-keys", "rg", "func-ps"},
			env: []string{"FAKE_AZ_KEYS_FAILURES=0"}, want: []string{"the Functions host of func-ps works"}, keyCalls: 1},
		{name: "host lists keys after two failures", args: []string{"function-keys", "rg", "func-ps"},
			env: []string{"FAKE_AZ_KEYS_FAILURES=2"}, want: []string{"attempt 1 of 4", "attempt 2 of 4", "works"}, keyCalls: 3},
		{name: "host never lists keys", args: []string{"function-keys", "rg", "func-ps"},
			env: []string{"FAKE_AZ_KEYS_FAILURES=always"}, wantFail: true, keyCalls: 4,
			want: []string{"did not list PutSecrets' function keys after 4 attempts", "Bad Request", "AzureWebJobsStorage__accountName",
				"Storage Blob Data Owner", "PR #11794", "#11787", "az functionapp config appsettings delete -g rg -n func-ps --setting-names AzureWebJobsStorage",
				"When the host does not work"}},
		{name: "empty AzureWebJobsStorage passes", args: []string{"storage-setting", "rg", "func-ps"},
			env: []string{"FAKE_AZ_WEBJOBS="}},
		{name: "AzureWebJobsStorage with a connection string stops, without printing it", args: []string{"storage-setting", "rg", "func-ps"},
			env: []string{"FAKE_AZ_WEBJOBS=DefaultEndpointsProtocol=https;AccountName=st;AccountKey=c2VjcmV0"}, wantFail: true,
			want: []string{"AzureWebJobsStorage on func-ps holds a connection string"}, notWant: []string{"c2VjcmV0"}},
		{name: "OwnedBy without targets warns with the command", args: []string{"graph-targets", "terraform", principal},
			env: []string{"FAKE_TF_ROLE=Application.ReadWrite.OwnedBy", "FAKE_TF_OWNED=[ ]"},
			want: []string{"WARNING", "owns no target service principal",
				`terraform -chdir=infra/graph-permissions apply -var "identity_principal_id=` + principal + `" -var 'target_service_principal_ids=["<service principal object ID>"]'`}},
		{name: "OwnedBy with a target is quiet", args: []string{"graph-targets", "terraform", principal},
			env: []string{"FAKE_TF_ROLE=Application.ReadWrite.OwnedBy", `FAKE_TF_OWNED=["6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c"]`}, notWant: []string{"WARNING"}},
		{name: "Synchronization.ReadWrite.All needs no targets", args: []string{"graph-targets", "terraform", principal},
			env: []string{"FAKE_TF_ROLE=Synchronization.ReadWrite.All", "FAKE_TF_OWNED=[]"}, notWant: []string{"WARNING"}},
		{name: "unknown check", args: []string{"everything"}, wantFail: true, want: []string{"usage:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// The fakes are written once by TestMain (see there why);
			// each case keeps its own log and counter.
			dir := t.TempDir()
			log := filepath.Join(dir, "calls")
			cmd := exec.Command("bash", append([]string{script}, tt.args...)...)
			cmd.Env = append(os.Environ(), append([]string{
				"PATH=" + fakeBins["deploy"] + string(os.PathListSeparator) + os.Getenv("PATH"),
				"FAKE_AZ_LOG=" + log, "FAKE_AZ_COUNT=" + filepath.Join(dir, "count"),
				"PUTSECRETS_CHECK_ATTEMPTS=4", "PUTSECRETS_CHECK_DELAY=0",
			}, tt.env...)...)
			out, err := cmd.CombinedOutput()
			if failed := err != nil; failed != tt.wantFail {
				t.Fatalf("exit error = %v, want failure %v\n%s", err, tt.wantFail, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(string(out), w) {
					t.Errorf("output has %q:\n%s", w, out)
				}
			}
			if tt.keyCalls == 0 {
				return
			}
			b, err := os.ReadFile(log)
			if err != nil {
				t.Fatal(err)
			}
			calls := strings.Split(strings.TrimSpace(string(b)), "\n")
			if len(calls) != tt.keyCalls {
				t.Errorf("got %d az calls, want %d: %q", len(calls), tt.keyCalls, calls)
			}
			for _, c := range calls {
				// The key itself is never asked for: only how many there are.
				if !strings.Contains(c, "functionapp function keys list --resource-group rg --name func-ps --function-name PutSecrets") ||
					!strings.Contains(c, "--query length(keys(@))") {
					t.Errorf("az call %q does not count PutSecrets' keys of func-ps in rg", c)
				}
			}
		})
	}
}

// TestDeployScriptsRunTheChecks: make deploy and the azd hook both run the
// three checks, the host check after the code is pushed.
func TestDeployScriptsRunTheChecks(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"deploy.sh", "azd-postprovision.sh"} {
		b, err := os.ReadFile(filepath.Join(mainDir, "scripts", name))
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		push := strings.Index(s, "deployment source config-zip")
		for _, check := range []string{"postdeploy-check.sh graph-targets", "postdeploy-check.sh storage-setting", "postdeploy-check.sh function-keys"} {
			i := strings.Index(s, check)
			switch {
			case i < 0:
				t.Errorf("%s does not run %s", name, check)
			case check == "postdeploy-check.sh function-keys" && i < push:
				t.Errorf("%s checks the function keys before pushing the code (the host has no PutSecrets yet)", name)
			case check == "postdeploy-check.sh storage-setting" && i > push:
				t.Errorf("%s checks AzureWebJobsStorage after pushing the code", name)
			}
		}
	}
}
