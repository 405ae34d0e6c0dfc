package host

import (
	"context"
	"encoding/json"
	"time"

	"github.com/putsecrets/putsecrets/standin/internal/wire"
)

// Timer is one timer trigger firing: the .NET TimerInfo the host hands the
// function (docs/platform.md §6).
type Timer struct {
	// Last and Next fill ScheduleStatus; zero Last renders as
	// DateTime.MinValue, as on a first run.
	Last, Next time.Time
	// IsPastDue reports a late firing.
	IsPastDue bool
	// AsObject sends Data.<binding> as a JSON object instead of the JSON
	// string the host sends custom handlers.
	AsObject bool
}

// dotnetOffsetTime renders a DateTime with its offset, as TimerInfo's
// ScheduleStatus members are ("2026-12-01T03:00:00+00:00").
func dotnetOffsetTime(t time.Time) string {
	if t.IsZero() {
		return "0001-01-01T00:00:00"
	}
	return t.UTC().Format("2006-01-02T15:04:05.9999999-07:00")
}

// timerEnvelope builds the host's request body for a timer trigger, in the
// shape of fixtures/functions-host/timer-request.json.
func timerEnvelope(f function, t Timer, ic invocation) ([]byte, error) {
	info := object{
		{"Schedule", object{{"AdjustForDST", true}}},
		{"ScheduleStatus", object{
			{"Last", dotnetOffsetTime(t.Last)},
			{"Next", dotnetOffsetTime(t.Next)},
			{"LastUpdated", dotnetOffsetTime(t.Last)},
		}},
		{"IsPastDue", t.IsPastDue},
	}
	text, err := wire.Marshal(info)
	if err != nil {
		return nil, err
	}
	var data any = string(text)
	if t.AsObject {
		data = json.RawMessage(text)
	}
	return wire.Marshal(object{
		{"Data", object{{f.trigger.Name, data}}},
		{"Metadata", object{{"sys", ic.sys(f.name)}}},
	})
}

// InvokeTimer runs a timer-triggered function once, as the host does when
// its schedule fires. The error is non-nil only when the handler could not
// be reached or ctx ended; a wrong answer is a Failed result.
func (h *Host) InvokeTimer(ctx context.Context, function string, t Timer) (*Result, error) {
	f, err := readFunction(h.opts.Dir, function, "timerTrigger")
	if err != nil {
		return nil, err
	}
	env, err := timerEnvelope(f, t, invocation{now: time.Now(), randGUID: wire.UUID()})
	if err != nil {
		return nil, err
	}
	res := &Result{}
	if err := h.invoke(ctx, function, env, res); err != nil {
		return nil, err
	}
	return res, nil
}
