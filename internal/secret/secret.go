// Package secret holds credential values so that they cannot be printed,
// logged or marshalled by accident.
//
// A Value redacts itself in every rendering Go offers (fmt verbs, %#v,
// encoding/json, encoding.TextMarshaler, log/slog). The one way to read it is
// Reveal, which is called where the value enters a Microsoft Graph request
// body and nowhere else.
//
// Scrubber is the other side: it knows every value of one invocation and
// cuts any piece of them out of text a dependency sent back, before that text
// reaches a caller or a log. It reads the values inside this package and
// never returns them.
package secret

import (
	"fmt"
	"log/slog"
)

// Redacted is what a Value renders as.
const Redacted = "[REDACTED]"

// Value is a credential value. The zero Value is empty.
//
// The text sits behind a pointer so that even reflection-based printing of a
// struct that holds a Value in an unexported field (where fmt cannot call
// Value's methods) shows an address, not the text.
type Value struct {
	p *string
}

// New wraps s.
func New(s string) Value { return Value{p: &s} }

// Reveal returns the plain text. Call it only where the value is written into
// a request body for Microsoft Graph.
func (v Value) Reveal() string {
	if v.p == nil {
		return ""
	}
	return *v.p
}

// IsZero reports whether v holds no text.
func (v Value) IsZero() bool { return v.p == nil || *v.p == "" }

// Len returns the length of the text in bytes, which is safe to report.
func (v Value) Len() int {
	if v.p == nil {
		return 0
	}
	return len(*v.p)
}

// Equal reports whether v and o hold the same text (for go-cmp).
func (v Value) Equal(o Value) bool { return v.Reveal() == o.Reveal() }

// String implements fmt.Stringer.
func (Value) String() string { return Redacted }

// GoString implements fmt.GoStringer.
func (Value) GoString() string { return "secret.Value(" + Redacted + ")" }

// Format implements fmt.Formatter so that every verb, %x and %q included,
// redacts.
func (Value) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(Redacted)) }

// MarshalJSON implements json.Marshaler.
func (Value) MarshalJSON() ([]byte, error) { return []byte(`"` + Redacted + `"`), nil }

// MarshalText implements encoding.TextMarshaler.
func (Value) MarshalText() ([]byte, error) { return []byte(Redacted), nil }

// LogValue implements slog.LogValuer.
func (Value) LogValue() slog.Value { return slog.StringValue(Redacted) }
