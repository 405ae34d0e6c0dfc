package request

import (
	"net/url"
	"strings"
	"testing"
)

// idLookAlikes are strings that pass a naive character check, or look like
// an ID to a person, and are not IDs of any kind. Each is given as JSON
// string content (escapes allowed).
var idLookAlikes = []struct{ name, json string }{
	{"dot", `.`},
	{"dot dot", `..`},
	{"three dots", `...`},
	{"double dot inside", `a..b`},
	{"leading dot", `.a`},
	{"trailing dot", `a.`},
	{"dot slash", `./a`},
	{"percent dot dot", `%2e%2e`},
	{"percent slash", `a%2Fb`},
	{"percent slash alone", `%2F`},
	{"slash", `a/b`},
	{"backslash", `a\\b`},
	{"question mark", `a?b`},
	{"hash", `a#b`},
	{"space", `a b`},
	{"leading space", ` scim`},
	{"tab", `a\tb`},
	{"newline", `a\nb`},
	{"NUL", `a\u0000b`},
	{"DEL", `a\u007fb`},
	{"one dot leader U+2024", `a\u2024b`},
	{"fullwidth full stop U+FF0E", `a\uff0eb`},
	{"two dot leaders", `\u2024\u2024`},
	{"fullwidth dots", `\uff0e\uff0e`},
	{"fullwidth solidus U+FF0F", `a\uff0fb`},
	{"leading dash", `-a`},
	{"leading underscore", `_a`},
	{"colon", `a:b`},
	{"very long", strings.Repeat("a", 4096)},
}

// TestParseRefusesIDLookAlikes: every ID field refuses every look-alike with
// a 400-class problem at that field, and the message repeats nothing of it.
func TestParseRefusesIDLookAlikes(t *testing.T) {
	t.Parallel()
	fields := []struct {
		field string
		doc   func(id string) string
	}{
		{"job.id", func(id string) string { return doc(`"job": {"id": "`+id+`", "action": "start"}`, base) }},
		{"validate.jobId", func(id string) string { return doc(`"validate": {"jobId": "`+id+`"}`, base) }},
		{"validate.templateId", func(id string) string { return doc(`"validate": {"templateId": "`+id+`"}`, base) }},
	}
	for _, f := range fields {
		for _, la := range idLookAlikes {
			t.Run(f.field+"/"+la.name, func(t *testing.T) {
				t.Parallel()
				req, err := Parse([]byte(f.doc(la.json)), nil)
				if err == nil {
					t.Fatalf("accepted; job %+v, validate %+v", req.Job, req.Validate)
				}
				e := err.(*Error)
				if e.PolicyOnly() {
					t.Errorf("a policy refusal (403); want an invalid request (400)")
				}
				var found bool
				for _, p := range e.Problems {
					if p.Field == f.field {
						found = true
						if len(la.json) > 1 && strings.Contains(p.Message, la.json) {
							t.Errorf("message %q repeats the value", p.Message)
						}
					}
				}
				if !found {
					t.Errorf("no problem at %s: %v", f.field, err)
				}
			})
		}
	}
}

// TestIDShapes: the shapes Microsoft Graph uses are accepted, as the kind
// they are.
func TestIDShapes(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 120) + "." + strings.Repeat("b", 135) // 256 bytes
	tests := []struct {
		id            string
		job, template bool
	}{
		{"scim", true, true},
		{"AWSSingleAccount", true, true},
		{"gsuite", true, true},
		{"SfSandboxOutDelta", true, true},
		{"SfSandboxOutDelta.e4bbf44533ea4eabb17027f3a92e92aa", true, false},
		{"AWSSingleAccount.e7a4c2a3b1c6425a9bf2ea8e8f6e2fe1.4a6d3b2f-0000-4e3a-9b8c-7d6e5f4a3b2c", true, false},
		{"AD2AADProvisioning.fd1c9b9e8077402c8bc03a7186c8f976.ddd63a43-6e37-4b3d-a5f2-56f3c4e1b0d2", true, false},
		{"Workday2AAD", true, true},
		{"a_b-c", true, true},
		{"9lives", true, true},
		{long, true, false},
		{long + "b", false, false},
		{strings.Repeat("t", 128), true, true},
		{strings.Repeat("t", 129), true, false},
		{"a.b.c.d.e.f.g.h", true, false},
		{"a.b.c.d.e.f.g.h.i", false, false},
	}
	for _, tt := range tests {
		if got := checkJobID([]byte(tt.id)) == ""; got != tt.job {
			t.Errorf("checkJobID(%.40q) accepted = %v, want %v (%s)", tt.id, got, tt.job, checkJobID([]byte(tt.id)))
		}
		if got := checkTemplateID([]byte(tt.id)) == ""; got != tt.template {
			t.Errorf("checkTemplateID(%.40q) accepted = %v, want %v", tt.id, got, tt.template)
		}
	}
}

// FuzzJobID: whatever checkJobID accepts is one path segment that no URL
// resolution changes: it needs no escaping, has no empty or dot-only part,
// and is bounded.
func FuzzJobID(f *testing.F) {
	for _, s := range []string{"scim", "a.b", ".", "..", "a..b", "%2e", "a\u2024b", "SfSandboxOutDelta.e4bbf44533ea4eabb17027f3a92e92aa"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if checkJobID(b) != "" {
			return
		}
		id := string(b)
		if len(id) == 0 || len(id) > maxIdentifier {
			t.Fatalf("accepted %d bytes", len(id))
		}
		if url.PathEscape(id) != id {
			t.Fatalf("accepted %q, which needs escaping in a path", id)
		}
		for _, part := range strings.Split(id, ".") {
			if part == "" {
				t.Fatalf("accepted %q, which has an empty part", id)
			}
		}
		if checkTemplateID(b) == "" && strings.Contains(id, ".") {
			t.Fatalf("template ID %q holds a dot", id)
		}
	})
}
