package vault

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/putsecrets/putsecrets/internal/retryafter"
	"github.com/putsecrets/putsecrets/internal/secret"
)

// maxErrorBody caps how much of a Key Vault error body is read. (azcore has
// already buffered the body; the cap bounds what is parsed.)
const maxErrorBody = 64 << 10

// maxMessage bounds the service message quoted in Error().
const maxMessage = 300

// Error is the failure to read one referenced secret.
type Error struct {
	// Ref is the reference that failed.
	Ref Ref
	// Fields are the request fields that named the secret: Ref's, and
	// those of the other references Resolve read it once for.
	Fields []string
	// Err is the cause: an *azcore.ResponseError, an azidentity error, a
	// transport or context error, or a refusal of the reference itself.
	Err error

	detail detail // what Key Vault answered, read once when the error is made
}

// newError makes the *Error of ref. What Key Vault answered is read now and
// scrubbed by s (the invocation's scrubber; nil scrubs nothing) before it is
// kept: Key Vault's message is dependency text, and may quote a value.
func newError(ref Ref, fields []string, err error, s *secret.Scrubber) *Error {
	e := &Error{Ref: ref, Fields: fields, Err: err}
	if re, ok := errors.AsType[*azcore.ResponseError](err); ok {
		d := readDetail(re)
		d.code, d.innerCode, d.message, d.requestID = s.Scrub(d.code), s.Scrub(d.innerCode), s.Scrub(d.message), s.Scrub(d.requestID)
		e.detail = d
	}
	return e
}

// Error reads `get secret "scim-token" from vault "contoso-kv": <cause>`. For
// a Key Vault answer the cause is one line (status, codes, message, request
// ID) rather than azcore's multi-line dump of the response.
func (e *Error) Error() string {
	cause := "<nil>"
	switch {
	case e.detail.status != 0:
		cause = e.detail.String()
	case e.Err != nil:
		cause = e.Err.Error()
	}
	return fmt.Sprintf("get secret %q from vault %q: %s", e.Ref.Name, e.Ref.vaultName(), cause)
}

// Unwrap returns Err.
func (e *Error) Unwrap() error { return e.Err }

// NotFound reports whether err holds a Key Vault 404: the secret (or the
// version) does not exist, usually SecretNotFound.
func NotFound(err error) bool {
	for d := range details(err) {
		if d.status == http.StatusNotFound {
			return true
		}
	}
	return false
}

// Disabled reports whether err holds a Key Vault 403 for a disabled secret
// (inner error code SecretDisabled).
func Disabled(err error) bool {
	for d := range details(err) {
		if d.disabled() {
			return true
		}
	}
	return false
}

// Forbidden reports whether err holds a Key Vault refusal of the caller's
// identity: a 403 other than SecretDisabled (RBAC or access policy), or a 401
// after the authentication challenge was answered.
func Forbidden(err error) bool {
	for d := range details(err) {
		if d.status == http.StatusUnauthorized || (d.status == http.StatusForbidden && !d.disabled()) {
			return true
		}
	}
	return false
}

// Throttled reports whether err holds a Key Vault 429 or 5xx that outlasted
// the pipeline's retries, and the longest Retry-After among them (zero when
// none was given).
func Throttled(err error) (retryAfter time.Duration, ok bool) {
	for d := range details(err) {
		if d.status == http.StatusTooManyRequests || d.status >= http.StatusInternalServerError {
			ok = true
			retryAfter = max(retryAfter, d.retryAfter)
		}
	}
	return retryAfter, ok
}

// detail is what one Key Vault error response says.
type detail struct {
	status     int
	code       string // error.code, e.g. "SecretNotFound", "Forbidden"
	innerCode  string // error.innererror.code, e.g. "SecretDisabled", "ForbiddenByRbac"
	message    string
	requestID  string // x-ms-request-id
	retryAfter time.Duration
}

func (d detail) disabled() bool {
	return d.status == http.StatusForbidden &&
		(strings.EqualFold(d.innerCode, "SecretDisabled") || strings.EqualFold(d.code, "SecretDisabled"))
}

// String is one line: status, codes, message, request ID.
func (d detail) String() string {
	var b strings.Builder
	b.WriteString(strconv.Itoa(d.status))
	if t := http.StatusText(d.status); t != "" {
		b.WriteString(" " + t)
	}
	if d.code != "" {
		b.WriteString(" " + d.code)
		if d.innerCode != "" {
			b.WriteString("/" + d.innerCode)
		}
	}
	if d.message != "" {
		b.WriteString(": " + d.message)
	}
	if d.requestID != "" {
		b.WriteString(" (x-ms-request-id " + d.requestID + ")")
	}
	return b.String()
}

// details yields what is known about every Key Vault response in err's tree,
// errors.Join included. An *Error answers from what it read when it was
// made; a bare *azcore.ResponseError has its body read now (which moves the
// body's read position, so do not classify one bare error from several
// goroutines at once).
func details(err error) iter.Seq[detail] {
	return func(yield func(detail) bool) {
		walk(err, yield)
	}
}

func walk(err error, yield func(detail) bool) bool {
	switch e := err.(type) {
	case nil:
		return true
	case *Error:
		if e.detail.status != 0 {
			return yield(e.detail)
		}
		return walk(e.Err, yield)
	case *azcore.ResponseError:
		return yield(readDetail(e))
	case interface{ Unwrap() []error }:
		for _, inner := range e.Unwrap() {
			if !walk(inner, yield) {
				return false
			}
		}
		return true
	case interface{ Unwrap() error }:
		return walk(e.Unwrap(), yield)
	}
	return true
}

// readDetail reads a Key Vault error response:
// {"error":{"code":…,"message":…,"innererror":{"code":…}}}. It reads the
// buffered body through a size cap and rewinds it for later readers.
func readDetail(re *azcore.ResponseError) detail {
	d := detail{status: re.StatusCode, code: re.ErrorCode}
	resp := re.RawResponse
	if resp == nil {
		return d
	}
	d.requestID = resp.Header.Get("x-ms-request-id")
	d.retryAfter = retryafter.Parse(resp.Header, time.Now())
	if resp.Body == nil {
		return d
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if s, ok := resp.Body.(io.Seeker); ok {
		_, _ = s.Seek(0, io.SeekStart)
	}
	var w struct {
		Error struct {
			Code       string     `json:"code"`
			Message    string     `json:"message"`
			InnerError *wireInner `json:"innererror"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &w); err != nil {
		if _, ok := errors.AsType[*json.UnmarshalTypeError](err); !ok {
			return d
		}
	}
	if d.code == "" {
		d.code = w.Error.Code
	}
	for in, depth := w.Error.InnerError, 0; in != nil && depth < 8; in, depth = in.InnerError, depth+1 {
		if in.Code != "" {
			d.innerCode = in.Code
			break
		}
	}
	d.message = oneLine(w.Error.Message, maxMessage)
	return d
}

type wireInner struct {
	Code       string     `json:"code"`
	InnerError *wireInner `json:"innererror"`
}

// oneLine folds whitespace runs (Key Vault messages hold \r\n) into single
// spaces and cuts the text to at most n bytes on a rune boundary.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
