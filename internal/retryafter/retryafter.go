// Package retryafter reads how long an Azure service asks a client to wait,
// the way azcore's retry policy reads it: retry-after-ms and
// x-ms-retry-after-ms first, then Retry-After in seconds or as an HTTP date.
package retryafter

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Parse returns the wait h asks for, or 0 when it asks for none. now is the
// reference for an HTTP-date Retry-After.
func Parse(h http.Header, now time.Time) time.Duration {
	for _, name := range []string{"retry-after-ms", "x-ms-retry-after-ms"} {
		if ms, err := strconv.ParseInt(strings.TrimSpace(h.Get(name)), 10, 64); err == nil && ms > 0 {
			return time.Duration(ms) * time.Millisecond
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s <= 0 {
			return 0
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
