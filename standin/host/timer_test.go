package host

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestTimerEnvelope: the emulator's timer envelope is the host's, byte for
// byte (the fixture compacted), and AsObject sends the same TimerInfo as an
// object.
func TestTimerEnvelope(t *testing.T) {
	t.Parallel()
	want, err := os.ReadFile(filepath.Join("..", "..", "internal", "envelope", "testdata", "timer-request.json"))
	if err != nil {
		t.Fatal(err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, want); err != nil {
		t.Fatal(err)
	}
	f, err := readFunction("", "Reconcile", "timerTrigger")
	if err != nil {
		t.Fatal(err)
	}
	ic := invocation{now: time.Date(2026, 12, 2, 3, 0, 0, 12345600, time.UTC), randGUID: "5d7c3a1e-9b2f-4c6d-8e1a-2f3b4c5d6e7f"}
	tm := Timer{Last: time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC), Next: time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)}
	got, err := timerEnvelope(f, tm, ic)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, compact.Bytes()) {
		t.Errorf("timer envelope:\n got %s\nwant %s", got, compact.Bytes())
	}

	tm.AsObject, tm.IsPastDue, tm.Last = true, true, time.Time{}
	got, err = timerEnvelope(f, tm, ic)
	if err != nil {
		t.Fatal(err)
	}
	var env struct {
		Data struct {
			Timer struct {
				IsPastDue      bool
				ScheduleStatus struct{ Last, Next string }
			} `json:"timer"`
		}
	}
	if err := json.Unmarshal(got, &env); err != nil {
		t.Fatalf("object form: %v: %s", err, got)
	}
	if s := env.Data.Timer; !s.IsPastDue || s.ScheduleStatus.Last != "0001-01-01T00:00:00" || s.ScheduleStatus.Next != "2026-12-02T03:00:00+00:00" {
		t.Errorf("object form = %+v", s)
	}
}
