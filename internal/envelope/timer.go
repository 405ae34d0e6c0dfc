package envelope

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// maxTimerBytes caps the TimerInfo of a timer invocation. The host's is a
// few hundred bytes; anything near this is not a timer.
const maxTimerBytes = 64 << 10

// Timer is a timer trigger invocation: the .NET TimerInfo the host
// serialises into Data.<binding> (docs/platform.md §6). Times the host leaves
// out or writes in a form this package does not know are zero: a timer
// invocation runs whatever its schedule status says.
type Timer struct {
	// IsPastDue reports that the invocation is later than scheduled (the
	// app was down, or the previous run overran).
	IsPastDue bool
	// Last and Next are ScheduleStatus.Last and .Next, in UTC.
	Last, Next time.Time
}

// timerInfo is the wire form of TimerInfo. encoding/json matches member
// names in any casing, which other workers' renderings need.
type timerInfo struct {
	IsPastDue      bool `json:"IsPastDue"`
	ScheduleStatus *struct {
		Last lenientTime `json:"Last"`
		Next lenientTime `json:"Next"`
	} `json:"ScheduleStatus"`
}

// DecodeTimer reads a timer trigger invocation whose binding is named
// binding ("timer") from r. Data.<binding> is the TimerInfo as a JSON string
// holding the object (what the host sends custom handlers) or as the object
// itself; an envelope that is not JSON, lacks the binding or holds anything
// else there is an error.
func DecodeTimer(r io.Reader, binding string) (*Timer, error) {
	var data []byte
	_, err := decode(r, binding, nil, func(s *scanner) error {
		c := &capture{limit: maxTimerBytes}
		if err := s.value(c); err != nil {
			return err
		}
		if c.over() {
			return fmt.Errorf("Data.%s is larger than %d bytes", binding, maxTimerBytes)
		}
		data = c.buf
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("decode timer invocation: %w", err)
	}
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '"' {
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return nil, fmt.Errorf("decode timer invocation: Data.%s: %w", binding, valueFree(err))
		}
		data = bytes.TrimSpace([]byte(s))
	}
	if len(data) == 0 || data[0] != '{' {
		return nil, fmt.Errorf("decode timer invocation: Data.%s is neither a timer object nor a string holding one", binding)
	}
	// A member of another type than TimerInfo's is left zero (encoding/json
	// fills the rest): the run does not depend on the schedule status.
	var ti timerInfo
	var typ *json.UnmarshalTypeError
	if err := json.Unmarshal(data, &ti); err != nil && !errors.As(err, &typ) {
		return nil, fmt.Errorf("decode timer invocation: Data.%s: %w", binding, valueFree(err))
	}
	t := &Timer{IsPastDue: ti.IsPastDue}
	if s := ti.ScheduleStatus; s != nil {
		t.Last, t.Next = time.Time(s.Last), time.Time(s.Next)
	}
	return t, nil
}

// lenientTime reads a .NET DateTime as the host renders it: RFC 3339 with
// an offset, or without one (then UTC, as the host's clock is). Anything
// else, null included, reads as the zero time.
type lenientTime time.Time

// dotnetLayouts are the forms of a DateTime tried after RFC 3339.
var dotnetLayouts = []string{"2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00"}

func (lt *lenientTime) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) != nil {
		*lt = lenientTime{}
		return nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		*lt = lenientTime(t.UTC())
		return nil
	}
	for _, layout := range dotnetLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			*lt = lenientTime(t.UTC())
			return nil
		}
	}
	*lt = lenientTime{}
	return nil
}
