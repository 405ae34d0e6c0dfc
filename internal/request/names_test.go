package request

import (
	"regexp"
	"strings"
	"testing"
)

// The patterns CheckSecretName and CheckSecretVersion implement, kept as
// their oracle. (Loops, not regexps: `[0-9A-Za-z-]{1,127}` compiles into 127
// copies of its class, which cost a third of a millisecond and 2,000
// allocations at every start.)
var (
	namePattern    = regexp.MustCompile(`^[0-9A-Za-z-]{1,127}$`)
	versionPattern = regexp.MustCompile(`^[0-9A-Fa-f]{32}$`)
)

func TestCheckSecretNameAndVersion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		s             string
		name, version bool
	}{
		{"", false, false},
		{"scim-token", true, false},
		{"4387e9f3d6e14c459867679a90fd0f79", true, true},
		{"4387E9F3D6E14C459867679A90FD0F79", true, true},
		{"4387e9f3d6e14c459867679a90fd0f7", true, false},
		{"4387e9f3d6e14c459867679a90fd0f790", true, false},
		{"4387e9f3d6e14c459867679a90fd0f7g", true, false},
		{"A-Z-0-9", true, false},
		{"-", true, false},
		{strings.Repeat("n", 127), true, false},
		{strings.Repeat("n", 128), false, false},
		{strings.Repeat("v", 64), true, false},
		{"name/../x", false, false},
		{"name_1", false, false},
		{"naïve", false, false},
		{"a b", false, false},
		{"a\x00", false, false},
	}
	for _, tt := range tests {
		if got := CheckSecretName(tt.s) == nil; got != tt.name {
			t.Errorf("CheckSecretName(%q) accepts = %v, want %v", tt.s, got, tt.name)
		}
		if got := CheckSecretVersion(tt.s) == nil; got != tt.version {
			t.Errorf("CheckSecretVersion(%q) accepts = %v, want %v", tt.s, got, tt.version)
		}
		if namePattern.MatchString(tt.s) != tt.name || versionPattern.MatchString(tt.s) != tt.version {
			t.Errorf("the table disagrees with the patterns for %q", tt.s)
		}
	}
}

// FuzzCheckSecretNameAndVersion checks the loops against the patterns they
// replace.
func FuzzCheckSecretNameAndVersion(f *testing.F) {
	for _, s := range []string{"", "scim-token", "4387e9f3d6e14c459867679a90fd0f79", "a/b", strings.Repeat("x", 127), "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := CheckSecretName(s) == nil, namePattern.MatchString(s); got != want {
			t.Errorf("CheckSecretName(%q) accepts = %v, pattern says %v", s, got, want)
		}
		if got, want := CheckSecretVersion(s) == nil, versionPattern.MatchString(s); got != want {
			t.Errorf("CheckSecretVersion(%q) accepts = %v, pattern says %v", s, got, want)
		}
	})
}
