package main

import (
	"errors"
	"strings"
	"testing"
)

// TestReconcileCommand runs `handler reconcile` with run(): the run itself
// is tested in internal/follow and through the Reconcile function in e2e;
// here, the command's wiring and its exit status.
func TestReconcileCommand(t *testing.T) {
	t.Parallel()
	az, mi := startStorage(t)

	if _, err := runCommand(t, stateEnv(mi, ""), "reconcile", "now"); err == nil || !errors.As(err, new(usageError)) {
		t.Errorf("a stray argument: %v, want a usage error", err)
	}
	out, err := runCommand(t, stateEnv(mi, ""), "reconcile")
	if err != nil || !strings.Contains(out, "no state store is configured (PUTSECRETS_STATE_URL)") {
		t.Errorf("without a store: %v, output %q; want success saying there is nothing to do", err, out)
	}
	empty := az.NewContainerURL()
	out, err = runCommand(t, stateEnv(mi, empty), "reconcile")
	if err != nil || !strings.Contains(out, `"msg":"reconcile run"`) || !strings.Contains(out, `"states":0`) {
		t.Errorf("an empty store: %v, output %q; want one report line of 0 states", err, out)
	}
	kept := az.NewContainerURL()
	seed(t, kept, spA)
	if _, err := runCommand(t, stateEnv(mi, kept), "reconcile"); err == nil || !strings.Contains(err.Error(), "ServiceBusConnection") {
		t.Errorf("followed states and no Service Bus: %v, want an error naming ServiceBusConnection", err)
	}
}
