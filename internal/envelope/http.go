package envelope

import (
	"encoding/json"
	"fmt"
	"io"
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

// DecodeHTTP reads an HTTP trigger invocation whose trigger binding is named
// binding ("req") from r. An HTTP trigger's Metadata only repeats Data.req
// (query, headers, promoted body fields), so it is skipped. The body is kept
// up to one byte over request.MaxBodyBytes (see the package comment).
func DecodeHTTP(r io.Reader, binding string) (*HTTPRequest, error) {
	req := &HTTPRequest{Query: map[string]string{}}
	var headers http.Header
	_, err := decode(r, binding, nil, func(s *scanner) error {
		return s.object(func(name []byte) error {
			switch {
			case equalFold(name, "Body"):
				return readHTTPBody(s, req)
			case equalFold(name, "Url"):
				return readPart(s, binding, "Url", &req.URL)
			case equalFold(name, "Method"):
				return readPart(s, binding, "Method", &req.Method)
			case equalFold(name, "Query"):
				var q map[string]any
				if err := readPart(s, binding, "Query", &q); err != nil {
					return err
				}
				for k, v := range q {
					if s, ok := v.(string); ok {
						req.Query[k] = s
					}
				}
				return nil
			case equalFold(name, "Headers"):
				return readPart(s, binding, "Headers", &headers) // keys as sent; canonicalHeaders fixes them
			default:
				return s.value(nil)
			}
		})
	})
	if err != nil {
		return nil, err
	}
	req.Headers = canonicalHeaders(headers)
	return req, nil
}

// readPart decodes the next value, which must be at most maxPart bytes, into v.
func readPart(s *scanner, binding, name string, v any) error {
	c := &capture{limit: maxPart}
	if err := s.value(c); err != nil {
		return err
	}
	if c.over() {
		return ErrTooLarge
	}
	if err := json.Unmarshal(c.buf, v); err != nil {
		return fmt.Errorf("Data.%s.%s: %w", binding, name, valueFree(err))
	}
	return nil
}

// readHTTPBody reads Data.req.Body: a string (the body's text), null (no
// body: the caller sent no Content-Length, or nothing), or, from some host
// versions, the JSON body as an object, whose text is taken.
func readHTTPBody(s *scanner, req *HTTPRequest) error {
	c, err := s.peek()
	if err != nil {
		return err
	}
	body := &capture{limit: maxBody}
	switch c {
	case 'n':
		v := &capture{limit: 8}
		if err := s.value(v); err != nil {
			return err
		}
		if string(v.buf) == "null" {
			req.Body, req.HasBody = nil, false
			return nil
		}
		body = v
	case '"':
		_, _ = s.ReadByte()
		if err := s.copy(body, s.newStringReader()); err != nil {
			return err
		}
	default:
		if err := s.value(body); err != nil {
			return err
		}
	}
	req.Body, req.HasBody = body.buf, true
	return nil
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
