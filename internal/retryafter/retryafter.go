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

// Parse returns the wait h asks for, at most Max, or 0 when it asks for none.
// now is the reference for an HTTP-date Retry-After.
func Parse(h http.Header, now time.Time) time.Duration {
	for _, name := range []string{"retry-after-ms", "x-ms-retry-after-ms"} {
		if ms, err := strconv.ParseInt(strings.TrimSpace(h.Get(name)), 10, 64); err == nil && ms > 0 {
			return time.Duration(min(ms, int64(Max/time.Millisecond))) * time.Millisecond
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
		return time.Duration(min(s, int64(Max/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), Max)
	}
	return 0
}

// Max caps the wait an answer may ask for. Beyond a day the header is
// nonsense, and multiplying its seconds out would overflow a time.Duration
// into a negative wait (the vault package's FuzzReadDetail found
// "Retry-After: 2001700000000").
const Max = 24 * time.Hour
