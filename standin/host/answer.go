package host

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// Result is one invocation as the host saw it.
type Result struct {
	// InvocationID is the X-Azure-Functions-InvocationId sent.
	InvocationID string
	// Request is the envelope sent to the handler.
	Request []byte
	// HandlerStatus, ContentType and Raw are the handler's answer.
	HandlerStatus int
	ContentType   string
	Raw           []byte
	// Outputs, Logs and ReturnValue are the decoded answer (when it
	// decoded).
	Outputs     map[string]json.RawMessage
	Logs        []string
	ReturnValue json.RawMessage
	// Failed reports that the host would fail the invocation: a non-2xx
	// answer, a Content-Type other than application/json, or a body that is
	// not a JSON object. For Service Bus the message is then abandoned
	// (redelivered, dead-lettered after MaxDeliveryCount).
	Failed bool
	// Reason says why the invocation failed.
	Reason string
}

// HTTPResult is an HTTP-triggered invocation and what the caller got.
type HTTPResult struct {
	Result
	// Invoked is false when the host answered the caller without calling
	// the handler (a method the function does not accept).
	Invoked bool
	// CallerStatus, CallerHeaders and CallerBody are what the HTTP caller
	// receives: Outputs.<http output> rendered, or a bare 500 when the
	// invocation failed.
	CallerStatus  int
	CallerHeaders http.Header
	CallerBody    []byte
}

// decode fills the answer fields of r from the handler's response and
// decides whether the invocation failed. Outputs and Logs are decoded from
// any JSON object answer, failed or not, for diagnosis.
func (r *Result) decode(status int, contentType string, body []byte) {
	r.HandlerStatus, r.ContentType, r.Raw = status, contentType, body
	trimmed := bytes.TrimSpace(body)
	isObject := len(trimmed) > 0 && trimmed[0] == '{'
	var decodeErr error
	if isObject {
		var doc struct {
			Outputs     map[string]json.RawMessage `json:"Outputs"`
			Logs        []json.RawMessage          `json:"Logs"`
			ReturnValue json.RawMessage            `json:"ReturnValue"`
		}
		if decodeErr = json.Unmarshal(trimmed, &doc); decodeErr == nil {
			r.Outputs, r.ReturnValue = doc.Outputs, doc.ReturnValue
			for _, l := range doc.Logs {
				var s string
				if json.Unmarshal(l, &s) != nil {
					s = string(l)
				}
				r.Logs = append(r.Logs, s)
			}
		}
	}
	fail := func(format string, args ...any) {
		r.Failed = true
		r.Reason = fmt.Sprintf(format, args...)
	}
	mt, _, ctErr := mime.ParseMediaType(contentType)
	switch {
	case status < 200 || status > 299:
		fail("handler answered %d", status)
	case ctErr != nil || mt != "application/json":
		fail("handler answered Content-Type %q, not application/json", contentType)
	case len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")):
		fail("handler answered an empty or null body (the real host waits for the function timeout)")
	case !isObject:
		fail("handler answered JSON that is not an object")
	case decodeErr != nil:
		fail("handler answer does not decode: %v", decodeErr)
	}
}

// caller renders what the HTTP caller receives, from the http output
// binding named out.
func (h *HTTPResult) caller(out string) {
	h.CallerHeaders = http.Header{}
	if h.Failed {
		h.CallerStatus = http.StatusInternalServerError
		return
	}
	raw, ok := h.Outputs[out]
	if !ok || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		// Inferred: with no response set, the host answers 204.
		h.CallerStatus = http.StatusNoContent
		return
	}
	var res struct {
		StatusCode json.RawMessage            `json:"statusCode"`
		Headers    map[string]json.RawMessage `json:"headers"`
		Body       json.RawMessage            `json:"body"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		h.Failed, h.Reason = true, fmt.Sprintf("Outputs.%s does not decode: %v", out, err)
		h.CallerStatus = http.StatusInternalServerError
		return
	}
	h.CallerStatus = http.StatusOK
	if len(res.StatusCode) > 0 && string(res.StatusCode) != "null" {
		n, err := strconv.Atoi(strings.Trim(string(res.StatusCode), `"`))
		if err != nil || n < 100 || n > 999 {
			h.Failed, h.Reason = true, fmt.Sprintf("Outputs.%s.statusCode %s is not a status", out, res.StatusCode)
			h.CallerStatus = http.StatusInternalServerError
			return
		}
		h.CallerStatus = n
	}
	for k, v := range res.Headers {
		var s string
		if json.Unmarshal(v, &s) != nil {
			s = strings.Trim(string(v), `"`)
		}
		h.CallerHeaders.Set(k, s)
	}
	body := bytes.TrimSpace(res.Body)
	switch {
	case len(body) == 0 || string(body) == "null":
	case body[0] == '"':
		var s string
		_ = json.Unmarshal(body, &s)
		h.CallerBody = []byte(s)
	case body[0] == '{' || body[0] == '[':
		// An object body is re-indented and sent as text unless the
		// handler set a Content-Type.
		var buf bytes.Buffer
		_ = json.Indent(&buf, body, "", "  ")
		h.CallerBody = buf.Bytes()
	default:
		h.CallerBody = body
	}
	if len(h.CallerBody) > 0 && h.CallerHeaders.Get("Content-Type") == "" {
		h.CallerHeaders.Set("Content-Type", "text/plain; charset=utf-8")
	}
}
