// Package node runs a stand-in's Node.js program (Azurite, the Service Bus
// test broker) as a child process of the test binary: it finds the
// program's directory and the node binary, checks that npm installed its
// dependencies, starts it with its standard input held open (the programs
// exit when it closes, so a test binary that dies leaves none behind), keeps
// the tail of what it prints, returns once it prints the line that says it
// is ready, and stops it.
package node

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// StartTimeout is how long the stand-ins' test helpers give a program to
// start: npm packages load slowly on a busy machine.
const StartTimeout = 60 * time.Second

// tailMax is how much of a program's output Process keeps.
const tailMax = 64 << 10

// Program is one stand-in's Node.js program and how to run it.
type Program struct {
	// Name is the stand-in's name, which starts its errors ("azurite").
	Name string
	// Dir is the program's directory under the module root
	// ("standin/azurite"), holding Script, package.json and node_modules.
	Dir string
	// Script is the file node runs, in Dir ("launch.js").
	Script string
	// Args follow Script on node's command line.
	Args []string
	// DirEnv names the variable that, when set, is the directory instead of
	// Dir ("AZURITE_DIR"); NodeEnv the one that is the node binary instead of
	// the node on PATH ("AZURITE_NODE").
	DirEnv, NodeEnv string
	// Module is a package the directory's node_modules must hold ("azurite");
	// "" checks nothing. Deps is the make target that installs it
	// ("azurite-deps") and NodeVersion the oldest Node.js it runs on ("20").
	Module, Deps, NodeVersion string
	// WorkDir is the program's working directory; "" is its directory.
	WorkDir string
	// Verbose copies everything the program prints to this process' stderr.
	Verbose bool
	// StopWait is how long Stop waits for the program to exit once its
	// standard input is closed, before it kills it.
	StopWait time.Duration
}

// Process is a running program.
type Process struct {
	cmd      *exec.Cmd
	stdin    io.WriteCloser
	output   *tail
	exited   chan struct{}
	stopWait time.Duration
	stopOnce sync.Once
}

// Start runs the program and returns once it prints, on its standard
// output, a line for which ready returns true (ready sees the lines in
// order, without their line ending), and that line. Everything the program
// prints, on either stream, goes to Output. ctx bounds only the start; when
// it ends first, or the program exits first, Start stops the program and
// fails with its output.
func (p Program) Start(ctx context.Context, ready func(line string) bool) (*Process, string, error) {
	dir, err := p.dir()
	if err != nil {
		return nil, "", err
	}
	node := os.Getenv(p.NodeEnv)
	if node == "" {
		if node, err = exec.LookPath("node"); err != nil {
			return nil, "", fmt.Errorf("%s: Node.js (node) is not on PATH; install Node.js %s or later and run `make %s`", p.Name, p.NodeVersion, p.Deps)
		}
	}
	if p.Module != "" {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", p.Module, "package.json")); err != nil {
			return nil, "", fmt.Errorf("%s: %s has no node_modules/%s; run `make %s` (npm ci --prefix %s)", p.Name, dir, p.Module, p.Deps, p.Dir)
		}
	}
	cmd := exec.Command(node, append([]string{filepath.Join(dir, p.Script)}, p.Args...)...)
	cmd.Dir = dir
	if p.WorkDir != "" {
		cmd.Dir = p.WorkDir
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", p.Name, err)
	}
	out := &tail{}
	var echo io.Writer = io.Discard
	if p.Verbose {
		echo = os.Stderr
	}
	cmd.Stderr = io.MultiWriter(out, echo)
	// exec copies standard output to lines in a goroutine of its own that
	// Wait waits for: once the program has exited, every line was seen.
	readyLine := make(chan string, 1)
	found := false
	stdout := &lines{each: func(line string) {
		_, _ = io.MultiWriter(out, echo).Write([]byte(line + "\n"))
		if !found && ready(line) {
			found = true
			readyLine <- line
		}
	}}
	cmd.Stdout = stdout
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("%s: starting %s: %w", p.Name, node, err)
	}
	proc := &Process{cmd: cmd, stdin: stdin, output: out, exited: make(chan struct{}), stopWait: p.StopWait}
	go func() {
		_ = cmd.Wait()
		stdout.flush()
		close(proc.exited)
	}()

	select {
	case line := <-readyLine:
		return proc, line, nil
	case <-proc.exited:
		// The ready line may be the last the program printed.
		select {
		case line := <-readyLine:
			return proc, line, nil
		default:
		}
		proc.Stop()
		return nil, "", fmt.Errorf("%s: exited before it was ready: %s", p.Name, out.String())
	case <-ctx.Done():
		proc.Stop()
		return nil, "", fmt.Errorf("%s: not ready: %w: %s", p.Name, ctx.Err(), out.String())
	}
}

// dir finds the program's directory: $DirEnv, else Dir under the module
// root above this source file, else (for binaries built with -trimpath) Dir
// under the module root above the working directory.
func (p Program) dir() (string, error) {
	if d := os.Getenv(p.DirEnv); p.DirEnv != "" && d != "" {
		return d, nil
	}
	var tried []string
	try := func(root string) (string, bool) {
		dir := filepath.Join(root, filepath.FromSlash(p.Dir))
		if _, err := os.Stat(filepath.Join(dir, p.Script)); err == nil {
			return dir, true
		}
		if !slices.Contains(tried, dir) {
			tried = append(tried, dir)
		}
		return "", false
	}
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		// This file is standin/internal/node/node.go.
		if dir, ok := try(filepath.Join(filepath.Dir(file), "..", "..", "..")); ok {
			return dir, nil
		}
	}
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				if dir, ok := try(d); ok {
					return dir, nil
				}
				break
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	return "", fmt.Errorf("%s: no %s in %s; set %s", p.Name, p.Script, strings.Join(tried, " or "), p.DirEnv)
}

// Stop closes the program's standard input, which makes it exit, and kills
// it if it has not exited after StopWait. It returns once the program has
// exited, and is safe to call more than once.
func (p *Process) Stop() {
	p.stopOnce.Do(func() {
		_ = p.stdin.Close()
		select {
		case <-p.exited:
		case <-time.After(p.stopWait):
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	})
}

// Output returns the last part of what the program printed.
func (p *Process) Output() string { return p.output.String() }

// StopAtEnd makes the end of tb's test call stop (which must stop p) and,
// when the test failed, log the program's last output under name.
func (p *Process) StopAtEnd(tb testing.TB, name string, stop func()) {
	tb.Cleanup(func() {
		stop()
		if tb.Failed() {
			if out := p.Output(); out != "" {
				tb.Logf("%s output:\n%s", name, out)
			}
		}
	})
}

// lines is an io.Writer that hands each line written to it to each, without
// its line ending; a line longer than tailMax is handed on in pieces.
type lines struct {
	partial []byte
	each    func(line string)
}

func (l *lines) Write(p []byte) (int, error) {
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.each(strings.TrimSuffix(string(l.partial[:i]), "\r"))
		l.partial = l.partial[i+1:]
	}
	if len(l.partial) > tailMax {
		l.flush()
	}
	return len(p), nil
}

// flush hands on what is left of an unfinished line.
func (l *lines) flush() {
	if len(l.partial) > 0 {
		l.each(string(l.partial))
		l.partial = nil
	}
}

// tail keeps the last tailMax bytes written to it.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > tailMax {
		t.buf = append([]byte(nil), t.buf[len(t.buf)-tailMax:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
