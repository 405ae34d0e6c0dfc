package request

import "strings"

// Problem is one thing wrong with a request document: the field it concerns
// and what to do about it. It never holds a value from the document; it may
// name fields, keys, vault names and secret names.
type Problem struct {
	// Field is the path of the field, e.g. "secrets[1].secretUri", or "" for
	// the body as a whole.
	Field string `json:"field"`
	// Message says what is wrong and what to do, lowercase-first.
	Message string `json:"message"`
	// Policy is true when the document is well-formed but the deployment's
	// policy refuses it (a vault not allowed, a literal credential): the
	// 403 class rather than 400.
	Policy bool `json:"-"`
}

// Error is what Parse returns for a document it refuses: every problem found,
// in the order their fields appear in the document.
type Error struct {
	Problems []Problem
}

// Error joins the problems into one line, "invalid request: field: message; …".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("invalid request")
	for i, p := range e.Problems {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		if p.Field != "" {
			b.WriteString(p.Field)
			b.WriteString(": ")
		}
		b.WriteString(p.Message)
	}
	return b.String()
}

// PolicyOnly reports whether every problem is a policy refusal, so that the
// caller answers 403 rather than 400.
func (e *Error) PolicyOnly() bool {
	if len(e.Problems) == 0 {
		return false
	}
	for _, p := range e.Problems {
		if !p.Policy {
			return false
		}
	}
	return true
}
