package graph

import "testing"

func TestCanonicalAPIVersion(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"v1.0": "v1.0", "V1.0": "v1.0", "beta": "beta", "Beta": "beta", "": "", "v1": "", " beta": "", "\u212aeta": "", "v1.0 ": ""} {
		got, ok := CanonicalAPIVersion(in)
		if got != want || ok != (want != "") {
			t.Errorf("CanonicalAPIVersion(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}
