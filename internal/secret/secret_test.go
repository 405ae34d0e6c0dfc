package secret

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

const canary = "canary-7f3a9c1e-do-not-print"

type holder struct {
	Exported   Value
	unexported Value
	Ptr        *Value
}

func TestValueNeverRenders(t *testing.T) {
	t.Parallel()
	v := New(canary)
	h := holder{Exported: v, unexported: v, Ptr: &v}

	renderings := map[string]string{}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10.3s"} {
		renderings["value "+verb] = fmt.Sprintf(verb, v)
		renderings["holder "+verb] = fmt.Sprintf(verb, h)
		renderings["pointer "+verb] = fmt.Sprintf(verb, &h)
	}
	renderings["fmt.Sprint"] = fmt.Sprint(v, h, []Value{v}, map[string]Value{"k": v})
	renderings["error %w"] = fmt.Errorf("wrap: %w; %v", fmt.Errorf("%v", v), v).Error()

	j, err := json.Marshal(map[string]any{"v": v, "h": h, "list": []Value{v}})
	if err != nil {
		t.Fatal(err)
	}
	renderings["json"] = string(j)

	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	log.Info("x", "v", v, "h", h, slog.Any("any", v))
	text := slog.New(slog.NewTextHandler(&buf, nil))
	text.Info("x", "v", v, "h", h)
	renderings["slog"] = buf.String()

	for name, got := range renderings {
		if strings.Contains(got, canary) || strings.Contains(got, fmt.Sprintf("%x", canary)) {
			t.Errorf("%s reveals the value: %s", name, got)
		}
	}
}

func TestReveal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		v     Value
		want  string
		zero  bool
		bytes int
	}{
		{"zero", Value{}, "", true, 0},
		{"empty", New(""), "", true, 0},
		{"text", New(canary), canary, false, len(canary)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.v.Reveal(); got != tt.want {
				t.Errorf("Reveal() = %d bytes, want %d bytes", len(got), len(tt.want))
			}
			if got := tt.v.IsZero(); got != tt.zero {
				t.Errorf("IsZero() = %v, want %v", got, tt.zero)
			}
			if got := tt.v.Len(); got != tt.bytes {
				t.Errorf("Len() = %d, want %d", got, tt.bytes)
			}
		})
	}
	if !New("a").Equal(New("a")) || New("a").Equal(New("b")) {
		t.Error("Equal compares the wrong thing")
	}
}
