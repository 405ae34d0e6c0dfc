// Package envelope decodes the invocation requests the Azure Functions host
// sends to a custom handler and encodes the handler's answers
// (enableForwardingHttpRequest: false).
//
// It is the one place that knows the wire format: {"Data":…,"Metadata":…} in,
// {"Outputs":…,"Logs":…,"ReturnValue":…} out. Past this package the rest of the
// program sees typed structs. The quirks it absorbs are listed in
// AZURE-FACTS.md §1: Service Bus bodies that arrive double-encoded,
// single-encoded, as an object or as base64; metadata scalars that are strings
// holding JSON; message properties that a JSON body's own top-level fields may
// have overwritten; HTTP bodies that are absent when the caller sent no
// Content-Length.
package envelope

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// MaxInvocationBytes caps the invocation request the handler reads from the
// host. A request document is at most 64 KiB; the envelope around it (headers,
// promoted metadata, double encoding) is allowed to be several times that.
const MaxInvocationBytes = 1 << 20

// InvocationIDHeader is the header carrying the host's invocation ID.
const InvocationIDHeader = "X-Azure-Functions-InvocationId"

// ErrTooLarge is returned when an invocation request exceeds MaxInvocationBytes.
var ErrTooLarge = errors.New("invocation request exceeds 1 MiB")

// invocation is the raw shape of every request the host sends.
type invocation struct {
	Data     map[string]json.RawMessage `json:"Data"`
	Metadata map[string]json.RawMessage `json:"Metadata"`
}

// Read reads at most MaxInvocationBytes from r.
func Read(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxInvocationBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read invocation request: %w", err)
	}
	if len(b) > MaxInvocationBytes {
		return nil, ErrTooLarge
	}
	return b, nil
}

func decodeInvocation(b []byte, binding string) (*invocation, json.RawMessage, error) {
	var inv invocation
	if err := json.Unmarshal(b, &inv); err != nil {
		return nil, nil, fmt.Errorf("decode invocation envelope: %w", valueFree(err))
	}
	data, ok := inv.Data[binding]
	if !ok {
		return nil, nil, fmt.Errorf("decode invocation envelope: Data has no %q binding", binding)
	}
	return &inv, data, nil
}

// Answer is the handler's answer to one invocation.
type Answer struct {
	Outputs     map[string]any `json:"Outputs"`
	Logs        []string       `json:"Logs"`
	ReturnValue any            `json:"ReturnValue"`
}

// HTTPOutput is the value of an http output binding. The host ignores a
// "status" field and re-indents an object body, so the body is always sent as
// a string with an explicit Content-Type.
type HTTPOutput struct {
	StatusCode int               `json:"statusCode"`
	Headers    map[string]string `json:"headers"`
	Body       string            `json:"body"`
}

// NewHTTPAnswer returns the answer for an HTTP-triggered invocation whose
// output binding is named binding.
func NewHTTPAnswer(binding string, out HTTPOutput, logs ...string) Answer {
	return Answer{Outputs: map[string]any{binding: out}, Logs: logs}
}

// Write sends a to the host with the given HTTP status. The host treats any
// non-2xx status as a failed invocation. Outputs and Logs are never null.
func Write(w http.ResponseWriter, status int, a Answer) error {
	if a.Outputs == nil {
		a.Outputs = map[string]any{}
	}
	if a.Logs == nil {
		a.Logs = []string{}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(a); err != nil {
		return fmt.Errorf("encode answer: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("write answer: %w", err)
	}
	return nil
}

// valueFree replaces encoding/json's errors, whose syntax errors quote the
// offending input character, with ones that say where and what kind of value
// went wrong but repeat nothing of the input: the envelope carries the
// caller's body, and these errors are logged.
func valueFree(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Errorf("not valid JSON (at byte %d)", syntax.Offset)
	case errors.As(err, &typ):
		return fmt.Errorf("a JSON %s where %s belongs (at byte %d, field %q)", typ.Value, typ.Type, typ.Offset, typ.Field)
	default:
		return errors.New("not valid JSON")
	}
}
