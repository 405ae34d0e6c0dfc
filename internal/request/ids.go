package request

import "fmt"

// Synchronization job and template IDs are checked here as IDs of their kind,
// not only as strings of harmless characters: both become a path segment of
// a Graph URL (…/jobs/{jobId}/…) or a field Graph matches against its
// templates, and a value such as "." or ".." passes a character check yet
// names another resource once a URL is resolved.
//
// The shapes are Microsoft Graph's (synchronizationJob, synchronizationTemplate
// on Microsoft Learn): a template ID is one word, "scim", "AWSSingleAccount",
// "gsuite", "SfSandboxOutDelta"; a job ID is its template ID and one or more
// further words joined by dots, "SfSandboxOutDelta.e4bbf44533ea4eabb17027f3a92e92aa",
// "AWSSingleAccount.e7a4c2a3b1c6425a9bf2ea8e8f6e2fe1.4a6d3b2f-…".

// Bounds of the IDs.
const (
	// maxIdentifier is the longest job ID accepted, in bytes.
	maxIdentifier = 256
	// maxTemplateID is the longest template ID accepted, in bytes.
	maxTemplateID = 128
	// maxJobIDParts is the most dot-separated words a job ID may have.
	maxJobIDParts = 8
)

// checkLength returns what is wrong with the length of an ID, what names its
// kind ("a job ID"): it is empty, or longer than max bytes.
func checkLength(b []byte, max int, what string) string {
	switch {
	case len(b) == 0:
		return "is empty; set it"
	case len(b) > max:
		return fmt.Sprintf("is %d characters long; %s has at most %d", len(b), what, max)
	}
	return ""
}

// checkTemplateID returns what is wrong with a synchronization template ID,
// or "" when it is one: 1 to maxTemplateID letters, digits, '_' and '-',
// starting with a letter or digit.
func checkTemplateID(b []byte) string {
	if msg := checkLength(b, maxTemplateID, "a template ID"); msg != "" {
		return msg
	}
	if msg := checkWord(b); msg != "" {
		return msg + templateIDHint
	}
	return ""
}

// checkJobID returns what is wrong with a synchronization job ID, or "" when
// it is one: at most maxIdentifier bytes of at most maxJobIDParts words
// joined by single dots, each word as checkWord wants it.
func checkJobID(b []byte) string {
	if msg := checkLength(b, maxIdentifier, "a job ID"); msg != "" {
		return msg
	}
	parts, start := 0, 0
	for i := 0; i <= len(b); i++ {
		if i < len(b) && b[i] != '.' {
			continue
		}
		parts++
		if i == start {
			return "has an empty part between dots (or starts or ends with a dot)" + jobIDHint
		}
		if msg := checkWord(b[start:i]); msg != "" {
			return msg + jobIDHint
		}
		start = i + 1
	}
	if parts > maxJobIDParts {
		return fmt.Sprintf("has %d dot-separated parts; a job ID has at most %d", parts, maxJobIDParts) + jobIDHint
	}
	return ""
}

// checkWord accepts one non-empty word of an ID: ASCII letters, digits, '_'
// and '-', starting with a letter or digit. Everything else (other
// punctuation, '%' escapes, white space, control characters, non-ASCII
// look-alikes such as U+2024 or U+FF0E) is refused.
func checkWord(w []byte) string {
	for _, c := range w {
		if !(isLetter(c) || isDigit(c) || c == '_' || c == '-') {
			return "may hold only letters, digits, '_' and '-'"
		}
	}
	if c := w[0]; !isLetter(c) && !isDigit(c) {
		return "must start with a letter or digit"
	}
	return ""
}

const (
	templateIDHint = `; send a template ID such as "scim" (GET /servicePrincipals/{id}/synchronization/templates lists them)`
	jobIDHint      = `; send a job ID such as "scim.e4bbf44533ea4eabb17027f3a92e92aa" (GET /servicePrincipals/{id}/synchronization/jobs lists them)`
)
