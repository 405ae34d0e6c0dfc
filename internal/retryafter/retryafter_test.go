package retryafter

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 5, 14, 9, 31, 7, 0, time.UTC)
	tests := []struct {
		name   string
		header http.Header
		want   time.Duration
	}{
		{"none", http.Header{}, 0},
		{"seconds", http.Header{"Retry-After": {"7"}}, 7 * time.Second},
		{"zero", http.Header{"Retry-After": {"0"}}, 0},
		{"negative", http.Header{"Retry-After": {"-3"}}, 0},
		{"HTTP date", http.Header{"Retry-After": {now.Add(90 * time.Second).Format(http.TimeFormat)}}, 90 * time.Second},
		{"HTTP date in the past", http.Header{"Retry-After": {now.Add(-time.Minute).Format(http.TimeFormat)}}, 0},
		{"garbage", http.Header{"Retry-After": {"soon"}}, 0},
		{"retry-after-ms first", http.Header{"Retry-After-Ms": {"250"}, "Retry-After": {"9"}}, 250 * time.Millisecond},
		{"x-ms-retry-after-ms", http.Header{"X-Ms-Retry-After-Ms": {"1500"}}, 1500 * time.Millisecond},
		{"seconds beyond a Duration", http.Header{"Retry-After": {"2001700000000"}}, Max},
		{"milliseconds beyond a Duration", http.Header{"Retry-After-Ms": {"9223372036854775807"}}, Max},
		{"HTTP date years away", http.Header{"Retry-After": {"Fri, 31 Dec 9999 23:59:59 GMT"}}, Max},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Parse(tt.header, now); got != tt.want {
				t.Errorf("Parse(%v) = %v, want %v", tt.header, got, tt.want)
			}
		})
	}
}

// FuzzParse feeds arbitrary header values to Parse: the wait is never
// negative nor above Max, and a header that is not an HTTP date gives the
// same wait at any time.
func FuzzParse(f *testing.F) {
	for _, s := range []struct{ name, value string }{
		{"Retry-After", "7"}, {"Retry-After", "-3"}, {"Retry-After", "2001700000000"},
		{"Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT"}, {"Retry-After", "Fri, 31 Dec 9999 23:59:59 GMT"},
		{"Retry-After-Ms", "250"}, {"X-Ms-Retry-After-Ms", "9223372036854775807"}, {"Retry-After", "soon"},
	} {
		f.Add(s.name, s.value)
	}
	now := time.Date(2025, 5, 14, 9, 31, 7, 0, time.UTC)
	f.Fuzz(func(t *testing.T, name, value string) {
		h := http.Header{}
		h.Set(name, value)
		d := Parse(h, now)
		if d < 0 || d > Max {
			t.Fatalf("Parse(%s: %q) = %v, outside [0, %v]", name, value, d, Max)
		}
		if _, err := http.ParseTime(strings.TrimSpace(value)); err != nil {
			if later := Parse(h, now.Add(time.Hour)); later != d {
				t.Fatalf("Parse(%s: %q) changed with the clock: %v, then %v", name, value, d, later)
			}
		}
	})
}
