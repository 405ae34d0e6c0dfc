package envelope

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/textproto"
)

// HTTPRequest is the caller's request as the host forwards it in Data.req.
type HTTPRequest struct {
	Method  string
	URL     string // may carry the function key in ?code=: never log it unredacted
	Query   map[string]string
	Headers http.Header
	// Body is the caller's body. The host forwards one only when the caller
	// sent Content-Length; HasBody tells an absent body from an empty one.
	Body    []byte
	HasBody bool
}

type rawHTTPRequest struct {
	URL     string          `json:"Url"`
	Method  string          `json:"Method"`
	Query   map[string]any  `json:"Query"`
	Headers http.Header     `json:"Headers"` // keys as sent; canonicalHeaders fixes them
	Body    json.RawMessage `json:"Body"`
}

// httpInvocation is what DecodeHTTP reads of an envelope. An HTTP trigger's
// Metadata only repeats Data.req (query, headers, promoted body fields), so
// it is skipped rather than decoded into a map on every invocation.
type httpInvocation struct {
	Data map[string]json.RawMessage `json:"Data"`
}

// DecodeHTTP decodes an HTTP trigger invocation whose trigger binding is
// named binding ("req").
func DecodeHTTP(b []byte, binding string) (*HTTPRequest, error) {
	var inv httpInvocation
	if err := json.Unmarshal(b, &inv); err != nil {
		return nil, fmt.Errorf("decode invocation envelope: %w", valueFree(err))
	}
	data, ok := inv.Data[binding]
	if !ok {
		return nil, fmt.Errorf("decode invocation envelope: Data has no %q binding", binding)
	}
	var raw rawHTTPRequest
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("decode invocation envelope: Data.%s: %w", binding, valueFree(err))
	}
	r := &HTTPRequest{
		Method:  raw.Method,
		URL:     raw.URL,
		Query:   make(map[string]string, len(raw.Query)),
		Headers: canonicalHeaders(raw.Headers),
	}
	for k, v := range raw.Query {
		if s, ok := v.(string); ok {
			r.Query[k] = s
		}
	}
	switch body := trimSpace(raw.Body); {
	case len(body) == 0 || string(body) == "null":
		// Absent: the caller sent no Content-Length (chunked upload), or no body.
	case body[0] == '"':
		var s string
		if err := json.Unmarshal(body, &s); err != nil {
			return nil, fmt.Errorf("decode invocation envelope: Data.%s.Body: %w", binding, valueFree(err))
		}
		r.Body, r.HasBody = []byte(s), true
	default:
		// Some host versions hand a JSON body over as an object: take its text.
		r.Body, r.HasBody = body, true
	}
	return r, nil
}

// canonicalHeaders returns h, decoded as the host sent it, with every key in
// canonical form (values of keys that differ only in case merged, as
// Header.Add merges them) and no key without values. It changes h in place:
// the host's keys are nearly always canonical already, so this costs no
// second map.
func canonicalHeaders(h http.Header) http.Header {
	if h == nil {
		return http.Header{}
	}
	var odd []string
	for k, vs := range h {
		if len(vs) == 0 || textproto.CanonicalMIMEHeaderKey(k) != k {
			odd = append(odd, k)
		}
	}
	for _, k := range odd {
		vs := h[k]
		delete(h, k)
		if len(vs) > 0 {
			ck := textproto.CanonicalMIMEHeaderKey(k)
			h[ck] = append(h[ck], vs...)
		}
	}
	return h
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
