package wire

import (
	"context"
	"regexp"
	"testing"
	"time"
)

func TestUUID(t *testing.T) {
	t.Parallel()
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for range 100 {
		u := UUID()
		if !re.MatchString(u) {
			t.Fatalf("UUID() = %q, not a version 4 UUID", u)
		}
		if seen[u] {
			t.Fatalf("UUID() repeated %q", u)
		}
		seen[u] = true
	}
}

func TestHex(t *testing.T) {
	t.Parallel()
	if h := Hex(16); !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(h) {
		t.Errorf("Hex(16) = %q", h)
	}
}

func TestMarshal(t *testing.T) {
	t.Parallel()
	got, err := Marshal(map[string]string{"a": "<b>&"})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"a":"<b>&"}`; string(got) != want {
		t.Errorf("Marshal = %s, want %s", got, want)
	}
}

func TestHostOnly(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"Graph.Microsoft.com:443":    "graph.microsoft.com",
		"contoso-kv.vault.azure.net": "contoso-kv.vault.azure.net",
		"127.0.0.1:8080":             "127.0.0.1",
	}
	for in, want := range tests {
		if got := HostOnly(in); got != want {
			t.Errorf("HostOnly(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWait(t *testing.T) {
	t.Parallel()
	if !Wait(context.Background(), nil, 0) {
		t.Error("Wait(0) = false")
	}
	if !Wait(context.Background(), nil, time.Millisecond) {
		t.Error("Wait(1ms) = false")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if Wait(ctx, nil, time.Hour) {
		t.Error("Wait with a cancelled context = true")
	}
	stop := make(chan struct{})
	close(stop)
	if Wait(context.Background(), stop, time.Hour) {
		t.Error("Wait with a closed stop channel = true")
	}
}
