package vault

import (
	"regexp"
	"strings"
	"testing"
)

// The patterns validName and validVersion implement, kept as their oracle.
var (
	namePattern    = regexp.MustCompile(`^[0-9A-Za-z-]{1,127}$`)
	versionPattern = regexp.MustCompile(`^[0-9A-Za-z]{0,64}$`)
)

func TestValidNameAndVersion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		s             string
		name, version bool
	}{
		{"", false, true},
		{"scim-token", true, false},
		{"4387e9f3d6e14c459867679a90fd0f79", true, true},
		{"A-Z-0-9", true, false},
		{"-", true, false},
		{strings.Repeat("n", 127), true, false},
		{strings.Repeat("n", 128), false, false},
		{strings.Repeat("v", 64), true, true},
		{strings.Repeat("v", 65), true, false},
		{"name/../x", false, false},
		{"name_1", false, false},
		{"naïve", false, false},
		{"a b", false, false},
		{"a\x00", false, false},
	}
	for _, tt := range tests {
		if got := validName(tt.s); got != tt.name {
			t.Errorf("validName(%q) = %v, want %v", tt.s, got, tt.name)
		}
		if got := validVersion(tt.s); got != tt.version {
			t.Errorf("validVersion(%q) = %v, want %v", tt.s, got, tt.version)
		}
		if namePattern.MatchString(tt.s) != tt.name || versionPattern.MatchString(tt.s) != tt.version {
			t.Errorf("the table disagrees with the patterns for %q", tt.s)
		}
	}
}

// FuzzValidNameAndVersion checks the loops against the patterns they replace.
func FuzzValidNameAndVersion(f *testing.F) {
	for _, s := range []string{"", "scim-token", "4387e9f3d6e14c459867679a90fd0f79", "a/b", strings.Repeat("x", 127), "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := validName(s), namePattern.MatchString(s); got != want {
			t.Errorf("validName(%q) = %v, pattern says %v", s, got, want)
		}
		if got, want := validVersion(s), versionPattern.MatchString(s); got != want {
			t.Errorf("validVersion(%q) = %v, pattern says %v", s, got, want)
		}
	})
}
