package node

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// program runs a script of testdata.
func program(script string, args ...string) Program {
	return Program{
		Name: "test", Dir: "standin/internal/node/testdata", Script: script, Args: args,
		DirEnv: "NODE_TEST_DIR", NodeEnv: "NODE_TEST_NODE", Deps: "test-deps", NodeVersion: "20",
		StopWait: StartTimeout,
	}
}

func isReady(line string) bool { return strings.HasPrefix(line, "ready") }

func TestStart(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
	}{
		{"stays until stopped", nil},
		{"exits right after its ready line", []string{"exit"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, line, err := program("ready.js", tt.args...).Start(t.Context(), isReady)
			if err != nil {
				t.Fatal(err)
			}
			p.Stop()
			p.Stop() // twice is fine
			if line != "ready 42" {
				t.Errorf("ready line %q, want %q (no line ending)", line, "ready 42")
			}
			out := p.Output()
			for _, want := range []string{"starting\n", "warn: on stderr\n", "ready 42\n"} {
				if !strings.Contains(out, want) {
					t.Errorf("output %q lacks %q", out, want)
				}
			}
			select {
			case <-p.exited:
			default:
				t.Error("Stop returned before the program exited")
			}
			if !p.cmd.ProcessState.Success() {
				t.Errorf("program ended %v, want a clean exit on its closed standard input", p.cmd.ProcessState)
			}
		})
	}
}

func TestStartFails(t *testing.T) {
	t.Parallel()
	t.Run("exits before it is ready", func(t *testing.T) {
		t.Parallel()
		_, _, err := program("fails.js").Start(t.Context(), isReady)
		if err == nil || !strings.Contains(err.Error(), "test: exited before it was ready: boom: no port") {
			t.Errorf("Start: %v, want the exit and the program's output", err)
		}
	})
	t.Run("context ends first", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(t.Context())
		_, _, err := program("waits.js").Start(ctx, func(line string) bool {
			if line == "waiting" {
				cancel()
			}
			return false
		})
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "test: not ready") || !strings.Contains(err.Error(), "waiting") {
			t.Errorf("Start: %v, want context.Canceled with the program's output", err)
		}
	})
}

// TestStopKills: a program that outlives its closed standard input is
// killed after StopWait.
func TestStopKills(t *testing.T) {
	t.Parallel()
	pr := program("stubborn.js")
	pr.StopWait = 1
	p, _, err := pr.Start(t.Context(), isReady)
	if err != nil {
		t.Fatal(err)
	}
	p.Stop()
	if p.cmd.ProcessState.Success() {
		t.Errorf("program ended %v, want killed", p.cmd.ProcessState)
	}
}

// TestStartFindsItsParts covers where the directory and node come from and
// what is said when they are missing. Not parallel: it sets variables.
func TestStartFindsItsParts(t *testing.T) {
	here, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		env     map[string]string
		change  func(*Program)
		wantErr string // "" for a start
	}{
		{name: "directory from the module root"},
		{name: "directory from DirEnv", env: map[string]string{"NODE_TEST_DIR": here}, change: func(p *Program) { p.Dir = "nowhere" }},
		{name: "no script", change: func(p *Program) { p.Script = "absent.js" },
			wantErr: "test: no absent.js in " + here + "; set NODE_TEST_DIR"},
		{name: "DirEnv is trusted", env: map[string]string{"NODE_TEST_DIR": t.TempDir()}, wantErr: "test: exited before it was ready: "},
		{name: "dependencies not installed", change: func(p *Program) { p.Module = "left-pad" },
			wantErr: "test: " + here + " has no node_modules/left-pad; run `make test-deps` (npm ci --prefix standin/internal/node/testdata)"},
		{name: "no node on PATH", env: map[string]string{"PATH": t.TempDir()},
			wantErr: "test: Node.js (node) is not on PATH; install Node.js 20 or later and run `make test-deps`"},
		{name: "NodeEnv names no program", env: map[string]string{"NODE_TEST_NODE": filepath.Join(t.TempDir(), "node")}, wantErr: "test: starting"},
		{name: "working directory", change: func(p *Program) { p.WorkDir = t.TempDir() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			pr := program("ready.js")
			if tt.change != nil {
				tt.change(&pr)
			}
			p, _, err := pr.Start(t.Context(), isReady)
			if err == nil {
				p.Stop()
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Start: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.wantErr)):
				t.Errorf("Start: %v, want an error starting %q", err, tt.wantErr)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(here, "node_modules")); err == nil {
		t.Error("testdata has a node_modules; the missing-dependencies case checks nothing")
	}
}

func TestLines(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", tailMax+1)
	tests := []struct {
		name   string
		writes []string
		want   []string
	}{
		{"one line", []string{"a\n"}, []string{"a"}},
		{"split across writes", []string{"ab", "c\nd", "e\n"}, []string{"abc", "de"}},
		{"CRLF", []string{"a\r\nb\r\n"}, []string{"a", "b"}},
		{"a lone CR stays", []string{"a\rb\n"}, []string{"a\rb"}},
		{"empty lines", []string{"\n\n"}, []string{"", ""}},
		{"unfinished line flushed at the end", []string{"a\nb"}, []string{"a", "b"}},
		{"a line past the cap comes in pieces", []string{long + "\n"}, []string{long}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			l := &lines{each: func(line string) { got = append(got, line) }}
			for _, w := range tt.writes {
				if n, err := l.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			l.flush()
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("lines (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTail(t *testing.T) {
	t.Parallel()
	var tl tail
	_, _ = tl.Write([]byte(strings.Repeat("a", tailMax)))
	_, _ = tl.Write([]byte("bc"))
	if got := tl.String(); len(got) != tailMax || !strings.HasSuffix(got, "abc") {
		t.Errorf("tail keeps %d bytes ending %q, want %d ending \"abc\"", len(got), got[len(got)-3:], tailMax)
	}
}
