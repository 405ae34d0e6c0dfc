package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"

	"github.com/putsecrets/putsecrets/internal/cloud"
	"github.com/putsecrets/putsecrets/internal/request"
)

// schemaVersion is the version of the kept-state JSON this package writes and reads
// (docs/follow.md, "Kept state"). A blob with another version is refused, not guessed at.
const schemaVersion = 1

// MaxBlobBytes is the largest kept-state blob read: a request document is at most
// request.MaxBodyBytes, and its references and the envelope fit in the rest.
const MaxBlobBytes = 4 * request.MaxBodyBytes

// maxReferences bounds the references of one kept state: one per secrets entry at most.
const maxReferences = request.MaxSecrets

// Reference is one Key Vault reference of a kept document. Its JSON form is
// the one both the stored kept state (schema 1) and the state show command use.
type Reference struct {
	Field    string `json:"field"`              // where it was written, e.g. "secrets[1]"
	Key      string `json:"key"`                // the synchronizationSecret key, e.g. "SecretToken"
	Vault    string `json:"vault"`              // the vault's host, lower-case, e.g. "contoso-kv.vault.azure.net"
	Name     string `json:"name"`               // the secret's name as written (Key Vault names are case-insensitive)
	Version  string `json:"version,omitempty"`  // the version the document pins, "" when it follows the current one
	Resolved string `json:"resolved,omitempty"` // the version the last save read
}

// Kept is the desired state of one service principal.
type Kept struct {
	ServicePrincipalID string          // lower-case GUID
	Document           json.RawMessage // the request document as given (references and non-credential literals), stored compacted
	References         []Reference
	SavedAt            time.Time
	GraphRequestID     string
}

// references reports whether k references the secret name in vault (vault host and name
// compared case-insensitively, as Key Vault does), pinned or not.
func (k *Kept) references(vault, name string) bool {
	for _, r := range k.References {
		if strings.EqualFold(r.Vault, vault) && strings.EqualFold(r.Name, name) {
			return true
		}
	}
	return false
}

// keptJSON is the stored form of a Kept, schema version 1.
type keptJSON struct {
	Schema             int             `json:"schema"`
	ServicePrincipalID string          `json:"servicePrincipalId"`
	Document           json.RawMessage `json:"document"`
	References         []Reference     `json:"references"`
	SavedAt            time.Time       `json:"savedAt"`
	GraphRequestID     string          `json:"graphRequestId,omitempty"`
}

// encode validates k and returns its stored form.
func encode(k *Kept) ([]byte, error) {
	if err := check(k); err != nil {
		return nil, err
	}
	var doc bytes.Buffer
	if err := json.Compact(&doc, trimBOM(k.Document)); err != nil {
		return nil, fmt.Errorf("state: the document is not JSON: %w", err)
	}
	kj := keptJSON{
		Schema:             schemaVersion,
		ServicePrincipalID: k.ServicePrincipalID,
		Document:           doc.Bytes(),
		References:         append([]Reference{}, k.References...),
		SavedAt:            k.SavedAt.UTC(),
		GraphRequestID:     k.GraphRequestID,
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(kj); err != nil {
		return nil, fmt.Errorf("state: encode: %w", err)
	}
	if out.Len() > MaxBlobBytes {
		return nil, fmt.Errorf("state: the kept state of %s would take %d bytes, more than %d", k.ServicePrincipalID, out.Len(), MaxBlobBytes)
	}
	return out.Bytes(), nil
}

// decode reads a stored kept state, untrusted input from storage: strictly (unknown fields,
// another schema version or trailing data are refused) and checked like a Put.
func decode(data []byte) (*Kept, error) {
	if len(data) > MaxBlobBytes {
		return nil, fmt.Errorf("larger than %d bytes", MaxBlobBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var kj keptJSON
	if err := dec.Decode(&kj); err != nil {
		return nil, fmt.Errorf("not a kept state: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("not a kept state: data after the JSON object")
	}
	if kj.Schema != schemaVersion {
		return nil, fmt.Errorf("schema version %d, this program reads %d", kj.Schema, schemaVersion)
	}
	k := &Kept{
		ServicePrincipalID: kj.ServicePrincipalID,
		Document:           kj.Document,
		SavedAt:            kj.SavedAt,
		GraphRequestID:     kj.GraphRequestID,
	}
	if len(kj.References) > 0 {
		k.References = kj.References
	}
	if err := check(k); err != nil {
		return nil, err
	}
	return k, nil
}

// check refuses a Kept that this package must not store: a service principal ID that is not
// a lower-case GUID, a document that is not a JSON object or holds a literal value for a
// credential-bearing key, a reference whose vault or name cannot be an index path segment.
func check(k *Kept) error {
	if k == nil {
		return errors.New("state: no kept state")
	}
	if !isGUID(k.ServicePrincipalID) {
		return fmt.Errorf("state: servicePrincipalId %q is not a lower-case GUID", k.ServicePrincipalID)
	}
	doc := bytes.TrimSpace(trimBOM(k.Document))
	if len(doc) == 0 || doc[0] != '{' || !json.Valid(doc) {
		return errors.New("state: the document is not a JSON object")
	}
	if err := refuseLiteralCredentials(doc); err != nil {
		return err
	}
	if len(k.References) > maxReferences {
		return fmt.Errorf("state: %d references, at most %d", len(k.References), maxReferences)
	}
	for i, r := range k.References {
		if !isVaultHost(r.Vault) {
			return fmt.Errorf("state: references[%d] (%s): vault %q is not a lower-case vault host", i, r.Field, r.Vault)
		}
		if !isSecretName(r.Name) {
			return fmt.Errorf("state: references[%d] (%s): %q is not a Key Vault secret name", i, r.Field, r.Name)
		}
		if r.Version != "" && !isVersion(r.Version) || r.Resolved != "" && !isVersion(r.Resolved) {
			return fmt.Errorf("state: references[%d] (%s): a version is not a Key Vault secret version", i, r.Field)
		}
	}
	if k.SavedAt.IsZero() {
		return errors.New("state: savedAt is missing")
	}
	return nil
}

// refuseLiteralCredentials is the last line of the rule that a kept state never holds a
// secret value (docs/contract.md §8): the caller (the follow path) refuses such a document with
// 403 before it saves anything; this refuses to store one that got past it. A "value" of a
// credential-bearing key (request.IsCredential) must be a Key Vault reference; secretUri
// entries carry no value. Field names match in any casing here, which refuses more, never
// less. The error names the field, never the value.
func refuseLiteralCredentials(doc []byte) error {
	// encoding/json keeps the last of two members whose names match ignoring case, so a
	// literal followed by a reference in the same entry would pass unseen: such a document
	// is refused whole (request.Parse refuses it too).
	if err := refuseRepeatedFields(doc); err != nil {
		return err
	}
	var d struct {
		Secrets []struct {
			Key   string          `json:"key"`
			Value json.RawMessage `json:"value"`
		} `json:"secrets"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		// A document of another shape holds no secrets entries this check could read; the
		// caller parsed it with request.Parse, which refuses such shapes.
		return errors.New("state: the document's secrets are not a list of objects with a string key")
	}
	for i, e := range d.Secrets {
		if e.Value == nil || !request.IsCredential(e.Key) {
			continue
		}
		var s string
		if err := json.Unmarshal(e.Value, &s); err == nil && isWellFormedReference(s) {
			continue
		}
		return fmt.Errorf("state: secrets[%d]: credential-bearing key %q has a literal value; a kept state holds only Key Vault references for credentials", i, e.Key)
	}
	return nil
}

// isWellFormedReference reports whether s is a Key Vault reference that parses under the
// Key Vault suffix of one of the clouds (this package does not know which one the app runs
// in). Text that only begins like a reference ("@Microsoft.KeyVault(" and then anything) is
// not one: it would be a literal held in the kept state.
func isWellFormedReference(s string) bool {
	for _, c := range cloud.All {
		if _, isRef, err := request.ParseReference(s, c.KeyVaultSuffix); isRef && err == nil {
			return true
		}
	}
	return false
}

// refuseRepeatedFields refuses a document in which an object, at any depth, names a member
// twice, in the same or in another casing. The error repeats no text of the document.
func refuseRepeatedFields(doc []byte) error {
	d := json.NewDecoder(bytes.NewReader(doc))
	var walk func() error
	walk = func() error {
		t, err := d.Token()
		if err != nil {
			return errors.New("state: the document is not JSON")
		}
		switch t {
		case json.Delim('{'):
			seen := map[string]bool{}
			for d.More() {
				t, err := d.Token()
				if err != nil {
					return errors.New("state: the document is not JSON")
				}
				name, _ := t.(string)
				folded := foldName(name)
				if seen[folded] {
					return errors.New("state: an object in the document names one field twice (field names match ignoring case); a kept state must read one way")
				}
				seen[folded] = true
				if err := walk(); err != nil {
					return err
				}
			}
			_, err = d.Token() // '}'
		case json.Delim('['):
			for d.More() {
				if err := walk(); err != nil {
					return err
				}
			}
			_, err = d.Token() // ']'
		}
		if err != nil {
			return errors.New("state: the document is not JSON")
		}
		return nil
	}
	return walk()
}

// foldName maps a field name to one representative of the names encoding/json treats as
// the same (Unicode simple case folding, so "ſecrets" and "\u212aey" match "secrets" and
// "key"): each rune becomes the smallest rune of its folding orbit.
func foldName(name string) string {
	return strings.Map(func(r rune) rune {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		return least
	}, name)
}

func trimBOM(b []byte) []byte { return bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")) }
