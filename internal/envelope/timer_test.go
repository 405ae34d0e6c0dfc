package envelope

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDecodeTimer(t *testing.T) {
	t.Parallel()
	fixture, err := os.ReadFile(filepath.Join("testdata", "timer-request.json"))
	if err != nil {
		t.Fatal(err)
	}
	last := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	next := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	const info = `{"Schedule":{"AdjustForDST":true},"ScheduleStatus":{"Last":"2026-12-01T03:00:00+00:00","Next":"2026-12-02T05:00:00+02:00","LastUpdated":"2026-12-01T03:00:00+00:00"},"IsPastDue":true}`
	env := func(data string) string {
		return `{"Data":{"timer":` + data + `},"Metadata":{"sys":{"MethodName":"Reconcile"}}}`
	}
	tests := []struct {
		name string
		in   string
		want *Timer
		err  string
	}{
		{name: "host fixture (a string)", in: string(fixture), want: &Timer{Last: last, Next: next}},
		{name: "object", in: env(info), want: &Timer{IsPastDue: true, Last: last, Next: next}},
		{name: "string", in: env(quote(info)), want: &Timer{IsPastDue: true, Last: last, Next: next}},
		{name: "string with spaces around", in: env(quote("  \n" + info + " ")), want: &Timer{IsPastDue: true, Last: last, Next: next}},
		{name: "metadata first", in: `{"Metadata":{},"Data":{"timer":` + info + `}}`, want: &Timer{IsPastDue: true, Last: last, Next: next}},
		{name: "other casing", in: env(`{"isPastDue":true,"scheduleStatus":{"last":"2026-12-01T03:00:00Z","next":"2026-12-02T03:00:00Z"}}`),
			want: &Timer{IsPastDue: true, Last: last, Next: next}},
		{name: "times without an offset are UTC", in: env(`{"ScheduleStatus":{"Last":"2026-12-01T03:00:00","Next":"2026-12-02T03:00:00.0000000"}}`),
			want: &Timer{Last: last, Next: next}},
		{name: "first run: DateTime.MinValue", in: env(`{"ScheduleStatus":{"Last":"0001-01-01T00:00:00","Next":"2026-12-02T03:00:00Z"}}`),
			want: &Timer{Next: next}},
		{name: "no schedule status", in: env(`{"Schedule":{},"IsPastDue":false}`), want: &Timer{}},
		{name: "null schedule status", in: env(`{"ScheduleStatus":null}`), want: &Timer{}},
		{name: "empty object", in: env(`{}`), want: &Timer{}},
		{name: "times in unknown forms are zero", in: env(`{"ScheduleStatus":{"Last":"yesterday","Next":1764644400}}`), want: &Timer{}},
		{name: "members of other types are zero", in: env(`{"IsPastDue":"true","ScheduleStatus":{"Last":"2026-12-01T03:00:00Z","Next":[]}}`),
			want: &Timer{Last: last}},
		{name: "schedule status of another type", in: env(`{"IsPastDue":true,"ScheduleStatus":"soon"}`), want: &Timer{IsPastDue: true}},

		{name: "no binding", in: `{"Data":{"req":{}},"Metadata":{}}`, err: `Data has no "timer" binding`},
		{name: "binding in another casing", in: `{"Data":{"Timer":{}}}`, err: `Data has no "timer" binding`},
		{name: "no Data", in: `{"Metadata":{}}`, err: `Data has no "timer" binding`},
		{name: "null", in: env(`null`), err: "neither a timer object nor a string holding one"},
		{name: "number", in: env(`17`), err: "neither a timer object nor a string holding one"},
		{name: "array", in: env(`[{}]`), err: "neither a timer object nor a string holding one"},
		{name: "string holding a string", in: env(quote(quote(info))), err: "neither a timer object nor a string holding one"},
		{name: "string holding broken JSON", in: env(quote(`{"IsPastDue":tru`)), err: "not valid JSON"},
		{name: "empty string", in: env(`""`), err: "neither a timer object nor a string holding one"},
		{name: "envelope not JSON", in: `{"Data":`, err: "not valid JSON"},
		{name: "envelope an array", in: `[]`, err: "decode timer invocation"},
		{name: "too large", in: env(`{"Schedule":"` + strings.Repeat("x", maxTimerBytes) + `"}`), err: "larger than 65536 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := DecodeTimer(strings.NewReader(tt.in), "timer")
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("DecodeTimer() = %+v, %v; want an error containing %q", got, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("DecodeTimer() error = %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("DecodeTimer() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzDecodeTimer checks DecodeTimer on arbitrary envelopes: no panic, an
// error or a timer whose times are UTC, and an error never repeats the
// input past the binding's name.
func FuzzDecodeTimer(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("testdata", "timer-request.json")); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"Data":{"timer":{"IsPastDue":true,"ScheduleStatus":{"Last":"2026-12-01T03:00:00","Next":"x"}}}}`))
	f.Add([]byte(`{"Data":{"timer":"{\"ScheduleStatus\":null}"}}`))
	f.Add([]byte(`{"Data":{"timer":"canary-Zq8vL"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := DecodeTimer(strings.NewReader(string(b)), "timer")
		if err != nil {
			if got != nil {
				t.Fatal("DecodeTimer returned a timer and an error")
			}
			if strings.Contains(err.Error(), "canary-Zq8vL") {
				t.Fatalf("the error repeats the input: %v", err)
			}
			return
		}
		for _, tm := range []time.Time{got.Last, got.Next} {
			if !tm.IsZero() && tm.Location() != time.UTC {
				t.Fatalf("time %v is not UTC", tm)
			}
		}
	})
}

// quote returns s as a JSON string.
func quote(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}
