package follow

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/putsecrets/putsecrets/internal/kvevent"
	"github.com/putsecrets/putsecrets/internal/state"
)

// Subjects of the expiry reports (docs/contract.md §8).
const (
	SubjectNearExpiry = "PutSecrets.SecretNearExpiry"
	SubjectExpired    = "PutSecrets.SecretExpired"
)

// Expiry is the JSON body of an expiry report. It names the secret and who
// uses it, never a value.
type Expiry struct {
	Event   string `json:"event"` // "SecretNearExpiry" or "SecretExpired"
	EventID string `json:"eventId"`
	Vault   string `json:"vault"`   // the vault's host
	Secret  string `json:"secret"`  // the secret's name
	Version string `json:"version"` // the version that expires
	// Expiry is the version's EXP in RFC 3339 (UTC); "" when the event had none.
	Expiry            string      `json:"expiry"`
	ServicePrincipals []ExpiryUse `json:"servicePrincipals"`
}

// ExpiryUse is one followed service principal that uses the expiring version.
type ExpiryUse struct {
	ServicePrincipalID string `json:"servicePrincipalId"`
	// Keys are the synchronizationSecret keys whose references use it.
	Keys []string `json:"keys"`
	// Pinned is true when a reference names the expiring version itself:
	// a new version in Key Vault does not help, the document must change.
	Pinned bool `json:"pinned"`
}

// reportExpiry reports a SecretNearExpiry or SecretExpired event: a warning
// log line always, and a message to the results queue when one is set.
//
// A reference uses the expiring version when it pins that version, or when it
// follows the current one and the last save read that version (or the kept
// state does not say which it read). A following reference whose last save
// already read a newer version is not concerned by an old version expiring.
func (h *Events) reportExpiry(ctx context.Context, r *Result, kept []*state.Kept) error {
	e := r.Event
	rep := Expiry{
		Event: strings.TrimPrefix(e.Type, "Microsoft.KeyVault."), EventID: e.ID,
		Vault: e.Vault, Secret: e.Name, Version: e.Version,
		ServicePrincipals: []ExpiryUse{},
	}
	if !e.Expires.IsZero() {
		rep.Expiry = e.Expires.UTC().Format(time.RFC3339)
	}
	for _, k := range kept {
		use := ExpiryUse{ServicePrincipalID: k.ServicePrincipalID, Keys: []string{}}
		for _, ref := range k.References {
			if !uses(ref, e) {
				continue
			}
			switch {
			case strings.EqualFold(ref.Version, e.Version):
				use.Pinned = true
			case ref.Version == "" && (ref.Resolved == "" || strings.EqualFold(ref.Resolved, e.Version)):
			default:
				continue
			}
			use.Keys = append(use.Keys, ref.Key)
		}
		if len(use.Keys) > 0 {
			sort.Strings(use.Keys)
			rep.ServicePrincipals = append(rep.ServicePrincipals, use)
		}
	}
	sort.Slice(rep.ServicePrincipals, func(i, j int) bool {
		return rep.ServicePrincipals[i].ServicePrincipalID < rep.ServicePrincipals[j].ServicePrincipalID
	})
	for _, u := range rep.ServicePrincipals {
		r.ServicePrincipals = append(r.ServicePrincipals, u.ServicePrincipalID)
	}
	if len(rep.ServicePrincipals) == 0 {
		r.Reason = h.nobody(e, len(kept), "at version "+e.Version)
		return nil
	}
	r.Action = Reported
	subject := SubjectNearExpiry
	msg := "a followed Key Vault secret is about to expire"
	if e.Type == kvevent.SecretExpired {
		subject, msg = SubjectExpired, "a followed Key Vault secret has expired"
	}
	h.logger().Warn(msg,
		"event", rep.Event, "eventId", e.ID, "vault", e.Vault, "secret", e.Name, "version", e.Version,
		"expiry", rep.Expiry, "servicePrincipals", rep.ServicePrincipals, "resultsQueue", h.ResultsQueue)
	if h.ResultsQueue == "" {
		return nil
	}
	if h.Sender == nil {
		return errNoSender
	}
	body, err := json.Marshal(rep)
	if err != nil {
		return fmt.Errorf("encode the expiry report: %w", err)
	}
	mid, ct := MessageID(e.ID, subject), contentType
	m := &azservicebus.Message{
		MessageID: &mid, CorrelationID: &e.ID, Subject: &subject, ContentType: &ct, Body: body,
		ApplicationProperties: map[string]any{"vault": e.Vault, "secret": e.Name, "expiry": rep.Expiry},
	}
	if err := h.Sender.Send(ctx, h.ResultsQueue, m); err != nil {
		return fmt.Errorf("report the expiry of secret %s in vault %s to queue %q: %w", e.Name, e.Vault, h.ResultsQueue, err)
	}
	r.Sent++
	return nil
}
