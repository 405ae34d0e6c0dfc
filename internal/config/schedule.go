package config

import (
	"fmt"
	"strconv"
	"strings"
)

// scheduleFields are the six NCRONTAB fields of a timer trigger's schedule
// ({second} {minute} {hour} {day} {month} {day-of-week}), with their ranges
// and the names NCRONTAB accepts for months and days.
var scheduleFields = []struct {
	name     string
	min, max int
	names    []string // names[i] stands for min+i
}{
	{name: "second", max: 59},
	{name: "minute", max: 59},
	{name: "hour", max: 23},
	{name: "day", min: 1, max: 31},
	{name: "month", min: 1, max: 12, names: []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}},
	{name: "day-of-week", max: 6, names: []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}},
}

// checkSchedule checks the shape of a six-field NCRONTAB expression as the
// Functions timer trigger reads it: each field *, a value, a range a-b, a
// step (*/n, a/n, a-b/n) or a comma-separated list of these, in range. The
// TimeSpan form (hh:mm:ss) works only on App Service plans, not on Flex
// Consumption, so it is refused.
func checkSchedule(s string) error {
	if strings.Contains(s, ":") {
		return fmt.Errorf("%q is a TimeSpan, which the timer trigger accepts only on an App Service plan; "+
			"give a six-field NCRONTAB schedule such as %q", s, DefaultReconcileSchedule)
	}
	fields := strings.Fields(s)
	if len(fields) != len(scheduleFields) {
		return fmt.Errorf("%q has %d fields; NCRONTAB here has six ({second} {minute} {hour} {day} {month} {day-of-week}), e.g. %q",
			s, len(fields), DefaultReconcileSchedule)
	}
	for i, f := range fields {
		if err := checkScheduleField(f, i); err != nil {
			return fmt.Errorf("%q: %s field %q: %w", s, scheduleFields[i].name, f, err)
		}
	}
	return nil
}

func checkScheduleField(f string, i int) error {
	for _, part := range strings.Split(f, ",") {
		base, step, hasStep := strings.Cut(part, "/")
		if hasStep {
			n, err := strconv.Atoi(step)
			if err != nil || n < 1 || n > scheduleFields[i].max+1 {
				return fmt.Errorf("step %q is not a number from 1 to %d", step, scheduleFields[i].max+1)
			}
		}
		if base == "*" {
			continue
		}
		lo, hi, isRange := strings.Cut(base, "-")
		a, err := scheduleValue(lo, i)
		if err != nil {
			return err
		}
		if isRange {
			b, err := scheduleValue(hi, i)
			if err != nil {
				return err
			}
			if a > b {
				return fmt.Errorf("range %q runs backwards", base)
			}
		}
	}
	return nil
}

func scheduleValue(v string, i int) (int, error) {
	f := scheduleFields[i]
	for j, name := range f.names {
		if strings.EqualFold(v, name) {
			return f.min + j, nil
		}
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < f.min || n > f.max || strings.HasPrefix(v, "+") {
		return 0, fmt.Errorf("%q is not a %s from %d to %d", v, f.name, f.min, f.max)
	}
	return n, nil
}
