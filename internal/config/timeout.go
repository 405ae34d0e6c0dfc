package config

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The ranges of the time settings.
const (
	// MinInvocationTimeout is the shortest PUTSECRETS_INVOCATION_TIMEOUT: below
	// a second no token, secret and Graph round trip can finish, so every
	// invocation would fail (1ns was once accepted).
	MinInvocationTimeout = time.Second
	// MaxInvocationTimeout is the longest PUTSECRETS_INVOCATION_TIMEOUT when
	// host.json sets no finite functionTimeout (Flex Consumption and Premium
	// allow unbounded): an hour is far beyond any retry budget of an
	// invocation, and a typo such as 1000h would otherwise hold a message's
	// lock for weeks. With a finite functionTimeout the ceiling is that
	// timeout: the host would kill the invocation first.
	MaxInvocationTimeout = time.Hour
	// MaxConsistencyWait is the longest PUTSECRETS_GRAPH_CONSISTENCY_WAIT:
	// Consumption's largest functionTimeout (10 min). Replication of a new
	// service principal takes seconds to minutes.
	MaxConsistencyWait = 10 * time.Minute

	invocationTimeoutReserve = 5 * time.Second
)

// invocationTimeout is the override when set, else host.json's
// functionTimeout less a reserve for answering, else Consumption's default.
func invocationTimeout(override string, hostJSON []byte) (time.Duration, error) {
	functionTimeout, err := hostFunctionTimeout(hostJSON)
	if err != nil {
		return 0, err
	}
	if override != "" {
		d, err := time.ParseDuration(override)
		if err != nil || d <= 0 {
			return 0, fmt.Errorf("%s: %q is not a positive duration such as 90s", SettingInvocationTimeout, override)
		}
		ceiling, from := MaxInvocationTimeout, "the ceiling when host.json sets no finite functionTimeout"
		if functionTimeout > 0 {
			ceiling, from = functionTimeout, "host.json's functionTimeout, after which the host kills the invocation"
		}
		if d < MinInvocationTimeout || d > ceiling {
			return 0, fmt.Errorf("%s: %s is outside %s to %s (%s)", SettingInvocationTimeout, d, MinInvocationTimeout, ceiling, from)
		}
		return d, nil
	}
	timeout := functionTimeout
	if timeout <= 0 {
		timeout = DefaultFunctionTimeout
	}
	reserve := min(invocationTimeoutReserve, timeout/10)
	return timeout - reserve, nil
}

// hostFunctionTimeout is host.json's functionTimeout, 0 when host.json sets
// none or no limit ("-1").
func hostFunctionTimeout(hostJSON []byte) (time.Duration, error) {
	if len(hostJSON) == 0 {
		return 0, nil
	}
	var h struct {
		FunctionTimeout string `json:"functionTimeout"`
	}
	if err := json.Unmarshal(hostJSON, &h); err != nil {
		return 0, fmt.Errorf("host.json: %w", err)
	}
	if h.FunctionTimeout == "" {
		return 0, nil
	}
	d, err := ParseTimeSpan(h.FunctionTimeout)
	if err != nil {
		return 0, fmt.Errorf("host.json: functionTimeout: %w", err)
	}
	return d, nil
}

// consistencyWait is PUTSECRETS_GRAPH_CONSISTENCY_WAIT, or its default. 0
// is allowed (no wait for replication: a 404 is final at once); negative
// and longer than MaxConsistencyWait are not.
func consistencyWait(v string) (time.Duration, error) {
	if v == "" {
		return DefaultConsistencyWait, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s: %q is not a duration such as 30s", SettingConsistencyWait, v)
	}
	if d > MaxConsistencyWait {
		return 0, fmt.Errorf("%s: %s is longer than %s: a new service principal replicates within minutes, "+
			"and a longer wait only holds the caller", SettingConsistencyWait, d, MaxConsistencyWait)
	}
	return d, nil
}

// ParseTimeSpan parses a .NET TimeSpan as host.json writes it:
// [d.]hh:mm:ss[.fffffff]. "-1" (no limit) parses as 0.
func ParseTimeSpan(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "-1" {
		return 0, nil
	}
	var days int64
	if i := strings.IndexByte(s, '.'); i >= 0 && i < strings.IndexByte(s, ':') {
		d, err := strconv.ParseInt(s[:i], 10, 32)
		if err != nil {
			return 0, fmt.Errorf("%q is not a time span such as 00:05:00", s)
		}
		days, s = d, s[i+1:]
	}
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return 0, fmt.Errorf("%q is not a time span such as 00:05:00", s)
	}
	h, err1 := strconv.ParseUint(parts[0], 10, 8)
	m, err2 := strconv.ParseUint(parts[1], 10, 8)
	sec, err3 := strconv.ParseFloat(parts[2], 64)
	if err1 != nil || err2 != nil || err3 != nil || m > 59 || !(sec >= 0 && sec < 60) { // NaN fails too
		return 0, fmt.Errorf("%q is not a time span such as 00:05:00", s)
	}
	return time.Duration(days)*24*time.Hour + time.Duration(h)*time.Hour + time.Duration(m)*time.Minute +
		time.Duration(sec*float64(time.Second)), nil
}
