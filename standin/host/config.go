package host

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// hostConfig is the part of host.json the emulator reads.
type hostConfig struct {
	FunctionTimeout string `json:"functionTimeout"`
	CustomHandler   struct {
		Description struct {
			DefaultExecutablePath string   `json:"defaultExecutablePath"`
			WorkingDirectory      string   `json:"workingDirectory"`
			Arguments             []string `json:"arguments"`
		} `json:"description"`
		EnableForwardingHTTPRequest bool `json:"enableForwardingHttpRequest"`
	} `json:"customHandler"`
}

// readHostConfig reads dir/host.json; a missing file gives the zero config.
func readHostConfig(dir string) (hostConfig, error) {
	var c hostConfig
	if dir == "" {
		return c, nil
	}
	data, err := os.ReadFile(filepath.Join(dir, "host.json"))
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(data, &c); err != nil {
		return c, fmt.Errorf("host.json: %w", err)
	}
	return c, nil
}

// parseTimeSpan parses a .NET TimeSpan "hh:mm:ss[.fff]" (or "d.hh:mm:ss").
func parseTimeSpan(s string) (time.Duration, error) {
	days := 0
	if d, rest, ok := strings.Cut(s, "."); ok && strings.Count(s, ":") == 2 && !strings.Contains(d, ":") {
		n, err := strconv.Atoi(d)
		if err != nil {
			return 0, fmt.Errorf("timespan %q: %w", s, err)
		}
		days, s = n, rest
	}
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return 0, fmt.Errorf("timespan %q: want hh:mm:ss", s)
	}
	h, err1 := strconv.Atoi(parts[0])
	m, err2 := strconv.Atoi(parts[1])
	sec, err3 := strconv.ParseFloat(parts[2], 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return 0, fmt.Errorf("timespan %q: %w", s, err)
	}
	return time.Duration(days)*24*time.Hour + time.Duration(h)*time.Hour + time.Duration(m)*time.Minute +
		time.Duration(sec*float64(time.Second)), nil
}

// binding is one entry of function.json's bindings.
type binding struct {
	Name      string   `json:"name"`
	Type      string   `json:"type"`
	Direction string   `json:"direction"`
	DataType  string   `json:"dataType"`
	Methods   []string `json:"methods"`
	AuthLevel string   `json:"authLevel"`
	Route     string   `json:"route"`
}

// function is what the emulator knows of one function.
type function struct {
	name    string
	trigger binding
	httpOut string // name of the http output binding, "" when none
}

// readFunction reads dir/<name>/function.json. With dir "" it returns
// defaults for the trigger type: "req" and "res" for HTTP, "timer" for a
// timer, "message" for Service Bus.
func readFunction(dir, name, triggerType string) (function, error) {
	f := function{name: name}
	if dir == "" {
		switch triggerType {
		case "httpTrigger":
			f.trigger = binding{Name: "req", Type: triggerType, Direction: "in"}
			f.httpOut = "res"
		case "timerTrigger":
			f.trigger = binding{Name: "timer", Type: triggerType, Direction: "in"}
		default:
			f.trigger = binding{Name: "message", Type: triggerType, Direction: "in"}
		}
		return f, nil
	}
	data, err := os.ReadFile(filepath.Join(dir, name, "function.json"))
	if err != nil {
		return f, fmt.Errorf("function %s: %w", name, err)
	}
	var cfg struct {
		Bindings []binding `json:"bindings"`
		Disabled bool      `json:"disabled"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return f, fmt.Errorf("function %s: function.json: %w", name, err)
	}
	for _, b := range cfg.Bindings {
		switch {
		case strings.HasSuffix(b.Type, "Trigger"):
			f.trigger = b
		case b.Type == "http" && strings.EqualFold(b.Direction, "out"):
			f.httpOut = b.Name
		}
	}
	if f.trigger.Type != triggerType {
		return f, fmt.Errorf("function %s has trigger %q, not %q", name, f.trigger.Type, triggerType)
	}
	if cfg.Disabled {
		return f, fmt.Errorf("function %s is disabled", name)
	}
	return f, nil
}

// allowsMethod reports whether an HTTP trigger accepts method (no methods
// listed means all).
func (b binding) allowsMethod(method string) bool {
	if len(b.Methods) == 0 {
		return true
	}
	for _, m := range b.Methods {
		if strings.EqualFold(m, method) {
			return true
		}
	}
	return false
}
