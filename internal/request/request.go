// Package request parses and validates the request document of docs/contract.md
// §2: the JSON body that the PutSecrets and PutSecretsFromQueue functions and
// the enqueue and validate commands receive.
//
// Parse is strict. The body is at most MaxBodyBytes of UTF-8 holding exactly
// one JSON object. Field names are matched exactly, case-sensitively, at
// every level; unknown and repeated fields are refused, and so are repeated
// member names in any object, because encoding/json would silently keep the
// last one. Every problem is reported at once, each with the path of its
// field, and no problem ever repeats a value from the document: messages
// name fields, keys, the cloud's Key Vault suffix, and vault names only once
// they have passed Key Vault's naming rules.
//
// Where the contract is silent, Parse decides so:
//   - A leading UTF-8 byte order mark is ignored (RFC 8259 allows it;
//     PowerShell 5 writes one). Anything after the object but white space is
//     refused.
//   - null is refused everywhere, optional fields included: omit a field to
//     get its default.
//   - A \u escape of half a UTF-16 surrogate pair is refused rather than
//     turned into U+FFFD, so that a secret is never silently changed.
//   - Literal strings are kept byte for byte; only the detection of
//     "@Microsoft.KeyVault(" ignores surrounding spaces. A Key Vault
//     reference ignores spaces around its parameters and one trailing ";",
//     and its VaultName may also be the vault's host under the cloud's suffix.
//   - A secretUri ignores surrounding spaces, matches "https" and the
//     "secrets" segment in any case, and keeps the secret name and version
//     as written.
//   - A literal "" for a credential-bearing key is a literal too, and refused
//     like any other.
//   - At most 100 problems are listed, then a count of the rest.
//
// The package is pure: it reads neither the network nor the environment. The
// deployment's settings arrive as a Policy.
package request

import (
	"github.com/putsecrets/putsecrets/internal/graph"
	"github.com/putsecrets/putsecrets/internal/secret"
)

// MaxBodyBytes is the largest request document accepted, 64 KiB. Readers
// should stop at MaxBodyBytes+1 bytes and let Parse refuse the rest.
const MaxBodyBytes = 64 << 10

// MaxSecrets is the most entries a request's secrets may hold.
const MaxSecrets = 64

// DefaultResetScope is the resetScope of a job restart that names none:
// Graph's documented criteria for a restart that keeps the job's data.
const DefaultResetScope = "Watermark, Escrows, QuarantineState"

// Policy is what the deployment allows; it is built once from the settings
// (docs/contract.md §5).
type Policy struct {
	// KeyVaultSuffix is the cloud's Key Vault DNS suffix, e.g.
	// "vault.azure.net". References outside it are refused.
	KeyVaultSuffix string
	// AllowedVaults holds the vault hosts references may name, lowercase,
	// e.g. "contoso-kv.vault.azure.net" (PUTSECRETS_ALLOWED_VAULTS). Empty
	// refuses every reference.
	AllowedVaults map[string]bool
	// AllowLiteralCredentials lets credential-bearing keys take literal
	// values (PUTSECRETS_ALLOW_LITERAL_CREDENTIALS).
	AllowLiteralCredentials bool
	// DefaultAPIVersion is "v1.0" or "beta" (PUTSECRETS_GRAPH_API_VERSION),
	// used when a request names none. "" or anything else means "v1.0".
	DefaultAPIVersion string
	// AllowedServicePrincipals holds the service principal object IDs
	// requests may name, as lowercase GUIDs. Nil or empty allows any.
	AllowedServicePrincipals map[string]bool
	// StateStore reports that a store for kept desired states is configured
	// (PUTSECRETS_STATE_URL, docs/contract.md §8). Without one, a request that
	// sets follow is refused.
	StateStore bool
}

// apiVersion is the Graph version for requests that name none.
func (p *Policy) apiVersion() string {
	if v, ok := graph.CanonicalAPIVersion(p.DefaultAPIVersion); ok {
		return v
	}
	return graph.APIVersionV1
}

// Request is a parsed, valid request document.
type Request struct {
	// ServicePrincipalID is the target's object ID, a lowercase GUID.
	ServicePrincipalID string
	// Secrets is the complete set to store, in document order, keys unique.
	Secrets []Entry
	// APIVersion is "v1.0" or "beta".
	APIVersion string
	// DryRun asks to resolve and check everything and send nothing to Graph.
	DryRun bool
	// Validate, when set, asks for a validateCredentials call.
	Validate *Validate
	// Job, when set, asks to start or restart a synchronization job.
	Job *Job
	// Follow is the follow field: what a successful save does to the
	// service principal's kept desired state (docs/contract.md §8).
	Follow Follow
}

// Follow is the tri-state of a request's follow field.
type Follow uint8

// The values of Follow.
const (
	// FollowAbsent: the document has no follow field; a kept state, if
	// any, is replaced by this document after a successful save.
	FollowAbsent Follow = iota
	// FollowOn: "follow": true; the document is kept after a successful
	// save.
	FollowOn
	// FollowOff: "follow": false; a kept state is forgotten after a
	// successful save.
	FollowOff
)

// String returns "absent", "true" or "false".
func (f Follow) String() string {
	switch f {
	case FollowOn:
		return "true"
	case FollowOff:
		return "false"
	}
	return "absent"
}

// Entry is one synchronizationSecret to store: exactly one of Value and Ref
// is set.
type Entry struct {
	// Key is the synchronizationSecret name in canonical casing.
	Key string
	// Field is where the entry was written, e.g. "secrets[3]".
	Field string
	// Value is a literal value already in Graph's string form: strings as
	// they are, booleans and numbers as their JSON text, objects as compact
	// JSON text. It is zero when Ref is set.
	Value secret.Value
	// Ref is the Key Vault secret to read the value from, or nil.
	Ref *Reference
}

// Validate asks for POST …/synchronization/jobs/validateCredentials (with
// TemplateID) or …/jobs/{JobID}/validateCredentials; exactly one is set.
type Validate struct {
	TemplateID string
	JobID      string
}

// The actions of Job.Action.
const (
	JobStart   = "start"
	JobRestart = "restart"
)

// Job asks to start or restart the synchronization job ID after the secrets
// are saved.
type Job struct {
	// ID is the synchronization job ID.
	ID string
	// Action is JobStart or JobRestart.
	Action string
	// ResetScope is the restart's criteria.resetScope in canonical casing,
	// DefaultResetScope unless the request names one; "" for start.
	ResetScope string
}
