package graph

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/putsecrets/putsecrets/internal/retryafter"
	"github.com/putsecrets/putsecrets/internal/secret"
)

// maxErrorBody caps how much of an error body is read and parsed.
//
// azcore's body-download policy has already buffered the whole body by the
// time an operation sees the response; the cap bounds what this package
// parses and keeps.
const maxErrorBody = 64 << 10

// ResponseError is a non-success answer from Microsoft Graph. Read it with
// errors.As. No field holds a piece of a secret value of the invocation
// (those the request sent and those the context's secret.Scrubber knows).
type ResponseError struct {
	// StatusCode is the HTTP status code.
	StatusCode int
	// Code is Graph's error.code, e.g. "Authorization_RequestDenied".
	Code string
	// InnerCode is the synchronization service's own code, e.g.
	// "InvalidNotificationSettings", decoded from error.message when that
	// holds JSON text; otherwise error.innerError.code.
	InnerCode string
	// Message is the human message (the inner one when error.message holds
	// JSON text), with every piece of a secret value of the invocation
	// replaced by "[REDACTED]" (secret.Scrubber).
	Message string
	// RequestID is the response header request-id, else innerError.request-id.
	RequestID string
	// ClientRequestID is the response header client-request-id, else
	// innerError.client-request-id, else the ID this client sent.
	ClientRequestID string
	// Date is innerError.date.
	Date string
	// RetryAfter is the wait the response asked for (Retry-After in seconds
	// or as an HTTP date, or retry-after-ms), zero when it asked for none.
	RetryAfter time.Duration
	// Operation names the client method, e.g. "PutSecrets".
	Operation string
}

// Error returns one line: operation, status, codes and request IDs. It never
// includes the response body.
func (e *ResponseError) Error() string {
	var b strings.Builder
	b.WriteString("graph ")
	b.WriteString(e.Operation)
	b.WriteString(": ")
	b.WriteString(strconv.Itoa(e.StatusCode))
	if t := http.StatusText(e.StatusCode); t != "" {
		b.WriteString(" ")
		b.WriteString(t)
	}
	for _, f := range []struct{ name, value string }{
		{"code", e.Code},
		{"inner code", e.InnerCode},
		{"request-id", e.RequestID},
		{"client-request-id", e.ClientRequestID},
	} {
		if f.value != "" {
			b.WriteString(", ")
			b.WriteString(f.name)
			b.WriteString(" ")
			b.WriteString(f.value)
		}
	}
	return b.String()
}

// newResponseError turns a non-success response into a *ResponseError. sentID
// is the client-request-id the request carried; s (never nil) scrubs every
// value of the invocation out of everything taken from the answer.
func newResponseError(operation string, resp *http.Response, sentID string, s *secret.Scrubber) *ResponseError {
	var body []byte
	if resp.Body != nil {
		body, _ = io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		if seeker, ok := resp.Body.(io.Seeker); ok {
			_, _ = seeker.Seek(0, io.SeekStart) // leave the buffered body readable
		}
	}
	d := decodeError(body)
	// Every text taken from the answer is scrubbed, identifiers included: the
	// answer is not ours, and a value it echoes must not reach a log.
	return &ResponseError{
		StatusCode:      resp.StatusCode,
		Code:            s.Scrub(d.Code),
		InnerCode:       s.Scrub(d.InnerCode),
		Message:         s.Scrub(d.Message),
		RequestID:       s.Scrub(cmp.Or(resp.Header.Get(headerRequestID), d.RequestID)),
		ClientRequestID: s.Scrub(cmp.Or(resp.Header.Get(headerClientRequestID), d.ClientRequestID, sentID)),
		Date:            s.Scrub(d.Date),
		RetryAfter:      retryafter.Parse(resp.Header, time.Now()),
		Operation:       operation,
	}
}

// graphError is what an error body says.
type graphError struct {
	Code, InnerCode, Message, Date, RequestID, ClientRequestID string
}

// wireError is Graph's error body. encoding/json matches names without
// regard to case, so "innerError" and "innererror" both fill InnerError.
type wireError struct {
	Error struct {
		Code       string          `json:"code"`
		Message    json.RawMessage `json:"message"`
		InnerError struct {
			Code            string `json:"code"`
			Date            string `json:"date"`
			RequestID       string `json:"request-id"`
			ClientRequestID string `json:"client-request-id"`
		} `json:"innerError"`
	} `json:"error"`
}

// serviceError is the synchronization service's own error, which Graph often
// passes on as JSON text in error.message (with code "UnknownError"). Its
// casing and shape vary: {"Message","Code",…}, {"message","code"},
// {"error":{…}}.
type serviceError struct {
	Code      string        `json:"code"`
	ErrorCode string        `json:"errorCode"`
	Message   string        `json:"message"`
	Error     *serviceError `json:"error"`
}

// maxMessageDepth bounds how many times JSON text inside a message is decoded.
const maxMessageDepth = 3

// decodeError reads a Graph error body. It never fails: a body that is not
// JSON, or not Graph's shape, yields empty fields. Fields of an unexpected
// type are skipped and the rest kept.
func decodeError(body []byte) graphError {
	var w wireError
	if err := json.Unmarshal(body, &w); err != nil {
		if _, ok := errors.AsType[*json.UnmarshalTypeError](err); !ok {
			return graphError{}
		}
	}
	g := graphError{
		Code:            w.Error.Code,
		Date:            w.Error.InnerError.Date,
		RequestID:       w.Error.InnerError.RequestID,
		ClientRequestID: w.Error.InnerError.ClientRequestID,
	}
	g.Message, g.InnerCode = decodeMessage(w.Error.Message)
	if g.InnerCode == "" {
		g.InnerCode = w.Error.InnerError.Code
	}
	return g
}

// decodeMessage returns the human message and the service's code from
// error.message, which is a string, a string holding the service's JSON, or
// (tolerated) that JSON as an object.
func decodeMessage(raw json.RawMessage) (message, code string) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return "", ""
	}
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &message); err != nil {
			return "", ""
		}
	} else {
		message = string(raw)
	}
	for range maxMessageDepth {
		text := strings.TrimSpace(message)
		if !strings.HasPrefix(text, "{") {
			break
		}
		var se serviceError
		if err := json.Unmarshal([]byte(text), &se); err != nil {
			if _, ok := errors.AsType[*json.UnmarshalTypeError](err); !ok {
				break
			}
		}
		for se.Error != nil && se.Code == "" && se.ErrorCode == "" && se.Message == "" {
			se = *se.Error
		}
		if c := cmp.Or(se.Code, se.ErrorCode); c != "" {
			code = c
		}
		if se.Message == "" {
			break
		}
		message = se.Message
	}
	return message, code
}
