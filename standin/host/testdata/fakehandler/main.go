// Command fakehandler is a tiny custom handler for the host emulator's
// tests. It reports what it received and answers in the way its function
// name asks for, right or wrong.
//
// FAKE_MODE at start: "exit" exits 3 before listening, "never" never
// listens, "ignore-term" ignores SIGTERM; otherwise SIGTERM exits 0.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// received is what the handler saw of one invocation.
type received struct {
	Method           string              `json:"method"`
	Path             string              `json:"path"`
	Headers          map[string][]string `json:"headers"`
	TransferEncoding []string            `json:"transferEncoding"`
	ContentLength    int64               `json:"contentLength"`
	Body             string              `json:"body"`
	Env              []string            `json:"env"`
	Cwd              string              `json:"cwd"`
}

func main() {
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	switch os.Getenv("FAKE_MODE") {
	case "exit":
		fmt.Fprintln(os.Stderr, "boom: missing setting")
		os.Exit(3)
	case "never":
		<-term
		os.Exit(0)
	case "ignore-term":
		signal.Ignore(syscall.SIGTERM)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+os.Getenv("FUNCTIONS_CUSTOMHANDLER_PORT"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("listening")
	go func() { _ = http.Serve(ln, http.HandlerFunc(handle)) }()
	<-term
	fmt.Println("shutting down")
	os.Exit(0)
}

func handle(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && r.URL.Path == "/" {
		http.NotFound(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	env := os.Environ()
	sort.Strings(env)
	cwd, _ := os.Getwd()
	rec, _ := json.Marshal(received{
		Method: r.Method, Path: r.URL.Path, Headers: r.Header,
		TransferEncoding: r.TransferEncoding, ContentLength: r.ContentLength,
		Body: string(body), Env: env, Cwd: cwd,
	})
	fn := strings.TrimPrefix(r.URL.Path, "/")
	answer := func(v any) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	res := func(status int, headers map[string]string, body any) map[string]any {
		return map[string]any{"statusCode": status, "headers": headers, "body": body}
	}
	switch fn {
	case "Echo", "CreateOrder", "GetOrder":
		answer(map[string]any{
			"Outputs":     map[string]any{"res": res(200, map[string]string{"Content-Type": "application/json"}, string(rec))},
			"Logs":        []string{"echo"},
			"ReturnValue": nil,
		})
	case "Problem":
		answer(map[string]any{
			"Outputs":     map[string]any{"res": res(400, map[string]string{"Content-Type": "application/problem+json"}, `{"title":"Invalid request","status":400}`)},
			"Logs":        []string{"rejected"},
			"ReturnValue": nil,
		})
	case "StringStatus":
		answer(map[string]any{"Outputs": map[string]any{"res": map[string]any{"statusCode": "202", "body": "accepted"}}})
	case "ObjectBody":
		answer(map[string]any{"Outputs": map[string]any{"res": res(200, nil, map[string]any{"a": 1})}})
	case "NoRes":
		answer(map[string]any{"Outputs": map[string]any{}, "Logs": []string{}, "ReturnValue": nil})
	case "TextPlain":
		_, _ = io.WriteString(w, `{"Outputs":{},"Logs":[],"ReturnValue":null}`)
	case "Handler500":
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, `{"Outputs":{},"Logs":["failed"],"ReturnValue":null}`)
	case "Empty":
		w.Header().Set("Content-Type", "application/json")
	case "Null":
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, "null")
	case "Array":
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, "[]")
	case "Slow":
		<-r.Context().Done()
	case "ProcessOrder", "Queue", "BinaryQueue":
		answer(map[string]any{"Outputs": map[string]any{}, "Logs": []string{string(rec)}, "ReturnValue": nil})
	case "QueueFail":
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, `{"Outputs":{},"Logs":["dependency unavailable"],"ReturnValue":null}`)
	default:
		http.NotFound(w, r)
	}
}
