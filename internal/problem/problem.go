// Package problem turns every error the program can meet into the HTTP
// status and RFC 9457 problem document of docs/contract.md §3. From is the one
// function that maps errors to statuses; nothing else decides a status.
//
// A problem document never holds a secret value: messages are built here
// from field paths, key and vault names, and dependency codes; the
// dependency text passed through (Graph's message) was scrubbed where it
// entered (secret.Scrubber), and From scrubs the whole document again with
// the invocation's scrubber when the error carries one.
package problem

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/putsecrets/putsecrets/internal/provision"
	"github.com/putsecrets/putsecrets/internal/secret"
)

// ContentType is the media type of a problem document.
const ContentType = "application/problem+json"

// Document is an RFC 9457 problem document with the extensions of
// docs/contract.md §3.
type Document struct {
	Type       string       `json:"type"`
	Title      string       `json:"title"`
	Status     int          `json:"status"`
	Detail     string       `json:"detail"`
	Instance   string       `json:"instance,omitempty"`
	Errors     []FieldError `json:"errors,omitempty"`
	Dependency *Dependency  `json:"dependency,omitempty"`
	RetryAfter *int         `json:"retryAfterSeconds,omitempty"`
	// Stage and Saved are set when the invocation ran out of time
	// (provision.StageError.OutOfTime): how far it got, and whether the
	// secrets were saved (absent when that cannot be known: the PUT was under
	// way).
	Stage string `json:"stage,omitempty"`
	Saved *bool  `json:"saved,omitempty"`
}

// FieldError is one problem with one field of the request.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Dependency is what a dependency answered, when one did.
type Dependency struct {
	Service         string `json:"service"` // "graph", "keyVault", "managedIdentity"
	Status          int    `json:"status,omitempty"`
	Code            string `json:"code,omitempty"`
	InnerCode       string `json:"innerCode,omitempty"`
	RequestID       string `json:"requestId,omitempty"`
	ClientRequestID string `json:"clientRequestId,omitempty"`
	Vault           string `json:"vault,omitempty"`
}

// Problem is a mapped error: the status to answer with and the document.
type Problem struct {
	Status int
	// RetryAfter is how long the caller should wait, when a dependency said.
	RetryAfter time.Duration
	Doc        Document
}

// Transient reports whether retrying the same request later may succeed: a
// dependency was throttled or unavailable (503), or the failure is not
// understood (500). Service Bus redelivers transient failures and settles
// permanent ones (docs/contract.md §4).
func (p *Problem) Transient() bool {
	return p.Status == 503 || p.Status == 500
}

// JSON renders the document.
func (p *Problem) JSON() []byte {
	b, err := json.Marshal(p.Doc)
	if err != nil { // cannot happen: Document holds only strings and ints
		return []byte(`{"title":"Internal error","status":500}`)
	}
	return b
}

// Error makes a Problem usable as an error (e.g. a failed outcome).
func (p *Problem) Error() string {
	return fmt.Sprintf("%d %s: %s", p.Status, p.Doc.Title, p.Doc.Detail)
}

// New returns a problem with a status and detail of the caller's choosing,
// for answers that are not errors of a dependency (e.g. a missing body).
func New(status int, detail string, errs ...FieldError) *Problem {
	return &Problem{Status: status, Doc: Document{
		Type: kindOf(status).typ, Title: kindOf(status).title, Status: status, Detail: detail, Errors: errs,
	}}
}

// leaves flattens errors.Join trees, also under the wrappers Put returns
// its errors in (a provision.StageError, the invocation's scrubber: From
// scrubs the whole document afterwards).
func leaves(err error) []error {
	switch w := err.(type) {
	case *provision.StageError:
		return leaves(w.Err)
	case *secret.ScrubbedError:
		return leaves(w.Unwrap())
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, leaves(e)...)
		}
		return out
	}
	return []error{err}
}

// rank orders statuses when several failures happened: a failure that needs a
// person's action outranks one that a retry could fix, so a message is not
// redelivered in vain.
func rank(status int) int {
	switch status {
	case 400:
		return 7
	case 403:
		return 6
	case 502:
		return 5
	case 422:
		return 4
	case 404:
		return 3
	case 503:
		return 2
	default:
		return 1
	}
}

// kind is a problem's type and title.
type kind struct{ typ, title string }

// kinds gives each status the handler answers its problem type and title
// (docs/contract.md §3), in one table.
var kinds = map[int]kind{
	400: {"urn:putsecrets:problem:invalid-request", "Invalid request"},
	403: {"urn:putsecrets:problem:refused-by-policy", "Refused by policy"},
	404: {"urn:putsecrets:problem:service-principal-not-found", "Service principal not found"},
	422: {"urn:putsecrets:problem:unprocessable-secret", "Secrets not accepted"},
	502: {"urn:putsecrets:problem:identity-refused", "A dependency refused the app's identity"},
	503: {"urn:putsecrets:problem:dependency-unavailable", "A dependency is unavailable"},
}

// kindOf is the status's kind; any status outside kinds is an internal
// error.
func kindOf(status int) kind {
	if k, ok := kinds[status]; ok {
		return k
	}
	return kind{"urn:putsecrets:problem:internal-error", "Internal error"}
}

// retryAfterSeconds rounds up to whole seconds, as Retry-After carries them.
func retryAfterSeconds(d time.Duration) int {
	return int((d + time.Second - 1) / time.Second)
}

// RetryAfterHeader returns the Retry-After header value, or "".
func (p *Problem) RetryAfterHeader() string {
	if p.RetryAfter <= 0 {
		return ""
	}
	return fmt.Sprint(retryAfterSeconds(p.RetryAfter))
}

// LogAttrs returns the problem's fields for an invocation's log line: the
// type, the detail and, where a dependency answered, its name, status, code
// and request ID. It holds no value (nor does the document).
func (p *Problem) LogAttrs() []any {
	attrs := []any{"outcome", "failed", "problem", p.Doc.Type, "detail", p.Doc.Detail}
	if dep := p.Doc.Dependency; dep != nil {
		attrs = append(attrs, "dependency", dep.Service, "dependencyStatus", dep.Status,
			"dependencyCode", dep.Code, "dependencyRequestId", dep.RequestID)
	}
	return attrs
}
