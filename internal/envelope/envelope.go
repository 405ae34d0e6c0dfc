// Package envelope decodes the invocation requests the Azure Functions host
// sends to a custom handler and encodes the handler's answers
// (enableForwardingHttpRequest: false).
//
// It is the one place that knows the wire format: {"Data":…,"Metadata":…} in,
// {"Outputs":…,"Logs":…,"ReturnValue":…} out. Past this package the rest of the
// program sees typed structs. The quirks it absorbs are listed in
// docs/platform.md §1: Service Bus bodies that arrive double-encoded,
// single-encoded, as an object or as base64; metadata scalars that are strings
// holding JSON; message properties that a JSON body's own top-level fields may
// have overwritten; HTTP bodies that are absent when the caller sent no
// Content-Length.
//
// Envelopes are read as a stream (scan.go) in bounded memory, whatever their
// size: a body is kept up to one byte over request.MaxBodyBytes, in its
// decoded form, and the rest is only counted, so that the request parser
// refuses it as too large (400) and the message's properties still route the
// outcome.
package envelope

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/putsecrets/putsecrets/internal/request"
)

// InvocationIDHeader is the header carrying the host's invocation ID.
const InvocationIDHeader = "X-Azure-Functions-InvocationId"

// maxBody is how much of a request document is kept: one byte more than
// request.MaxBodyBytes, so that the request parser refuses a larger body with
// its own message (its rule, defined once) while the rest is only counted.
const maxBody = request.MaxBodyBytes + 1

// maxPart bounds every other value kept from an envelope (an HTTP request's
// URL, query and headers; a message property), in bytes as written.
const maxPart = 64 << 10

// ErrTooLarge is returned when a part of the envelope other than the body (an
// HTTP request's URL, query or headers) is larger than its bound.
var ErrTooLarge = errors.New("an HTTP request's URL, query or headers are larger than 64 KiB")

// decode reads one invocation request from r, keeping only what is asked
// for: the Data member named binding goes to onBinding, which must consume
// its value; the Metadata members that keep names (matched case-insensitively)
// are returned as written. Everything else is skipped and only counted, so
// memory stays bounded however large the envelope is.
func decode(r io.Reader, binding string, keep []string, onBinding func(*scanner) error) (map[string]json.RawMessage, error) {
	s := newScanner(r)
	defer s.release()
	var metadata map[string]json.RawMessage
	found := false
	err := s.object(func(name []byte) error {
		switch {
		case equalFold(name, "Data"):
			return s.object(func(name []byte) error {
				if string(name) != binding {
					return s.value(nil)
				}
				found = true
				return onBinding(s)
			})
		case equalFold(name, "Metadata") && keep != nil:
			if metadata == nil {
				metadata = map[string]json.RawMessage{}
			}
			return s.object(func(name []byte) error {
				if !slices.ContainsFunc(keep, func(k string) bool { return equalFold(name, k) }) {
					return s.value(nil)
				}
				v := &capture{limit: maxPart}
				if err := s.value(v); err != nil {
					return err
				}
				if !v.over() {
					metadata[string(name)] = v.buf
				}
				return nil
			})
		default:
			return s.value(nil)
		}
	})
	if err == nil {
		err = s.end()
	}
	if err != nil {
		return nil, fmt.Errorf("decode invocation envelope: %w", err)
	}
	if !found {
		return nil, fmt.Errorf("decode invocation envelope: Data has no %q binding", binding)
	}
	return metadata, nil
}

// equalFold reports whether name is s in any ASCII casing.
func equalFold(name []byte, s string) bool {
	return len(name) == len(s) && strings.EqualFold(string(name), s)
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
