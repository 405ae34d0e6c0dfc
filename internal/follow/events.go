package follow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"

	"github.com/putsecrets/putsecrets/internal/kvevent"
	"github.com/putsecrets/putsecrets/internal/state"
)

// Followers finds the kept states that reference a secret; *state.Store
// implements it.
type Followers interface {
	Followers(ctx context.Context, vault, name string) ([]*state.Kept, error)
}

// ErrUnreadable marks an event that cannot be acted on however often it is
// delivered: the worker dead-letters it, the function fails its invocation.
var ErrUnreadable = errors.New("unreadable Key Vault event")

// errNoSender is the error of an event that needs a message without a Service Bus connection.
var errNoSender = errors.New("no Service Bus connection to send with: set ServiceBusConnection or ServiceBusConnection__fullyQualifiedNamespace")

// Action says what Handle did with an event.
type Action string

// The actions of Handle.
const (
	// Reapplied: the kept documents of the followers were sent to the request queue.
	Reapplied Action = "reapplied"
	// Reported: an expiry was logged and, with a results queue, reported there.
	Reported Action = "reported"
	// Ignored: nothing to do; Result.Reason says why.
	Ignored Action = "ignored"
)

// Result is what Handle did with one event. It names no value: events hold none.
type Result struct {
	Event  *kvevent.Event // nil when unreadable
	Action Action
	// Reason says why an event was ignored.
	Reason string
	// ServicePrincipals are the followers the event concerned, sorted.
	ServicePrincipals []string
	// Sent counts the messages sent.
	Sent int
}

// LogAttrs returns the slog attributes of the result, for the one log line
// per event: the event's identifiers, what was done and why. r may be nil.
func (r *Result) LogAttrs() []any {
	if r == nil {
		return nil
	}
	var a []any
	if e := r.Event; e != nil {
		a = append(a, "eventId", e.ID, "eventType", e.Type, "eventSchema", string(e.Schema))
		if e.Ours() {
			a = append(a, "vault", e.Vault, "secret", e.Name, "version", e.Version)
		}
	}
	if r.Action != "" {
		a = append(a, "action", string(r.Action))
	}
	if r.Reason != "" {
		a = append(a, "reason", r.Reason)
	}
	if len(r.ServicePrincipals) > 0 {
		a = append(a, "servicePrincipals", r.ServicePrincipals)
	}
	return append(a, "sent", r.Sent)
}

// Events handles Key Vault events (docs/contract.md §8) for PutSecretsFromKeyVault
// and the worker.
type Events struct {
	// Logger receives the expiry warnings (discarded when nil).
	Logger *slog.Logger
	// Store finds followers; nil when no state store is configured
	// (PUTSECRETS_STATE_URL): then every event is ignored, saying so.
	Store Followers
	// Sender sends re-applied requests and expiry reports; nil when no
	// Service Bus connection is configured: an event that needs a message
	// then fails, saying so.
	Sender Sender
	// Suffix is the cloud's Key Vault DNS suffix.
	Suffix string
	// AllowedVaults are the vault hosts the app may read (lower-case).
	AllowedVaults []string
	// RequestQueue receives re-applied requests (PUTSECRETS_QUEUE).
	RequestQueue string
	// ResultsQueue, when set, receives expiry reports (PUTSECRETS_RESULTS_QUEUE).
	ResultsQueue string
}

// Handle decodes one event from a message body and acts on it. An error
// wrapping ErrUnreadable means the event can never be acted on; any other
// error (reading the kept states, sending) is worth a redelivery, which sends
// the same MessageIds.
func (h *Events) Handle(ctx context.Context, body []byte) (*Result, error) {
	e, err := kvevent.Decode(body, h.Suffix)
	if err != nil {
		return &Result{}, fmt.Errorf("%w: %w", ErrUnreadable, err)
	}
	r := &Result{Event: e, Action: Ignored}
	switch {
	case !e.Ours():
		r.Reason = fmt.Sprintf("event type %s is not one this app acts on", e.Type)
		return r, nil
	case !h.allowed(e.Vault):
		r.Reason = fmt.Sprintf("vault %s is not in PUTSECRETS_ALLOWED_VAULTS", e.Vault)
		return r, nil
	case h.Store == nil:
		r.Reason = "no state store is configured (PUTSECRETS_STATE_URL): nothing can be followed"
		return r, nil
	}
	kept, err := h.Store.Followers(ctx, e.Vault, e.Name)
	if err != nil {
		return r, fmt.Errorf("find the followers of secret %s in vault %s: %w", e.Name, e.Vault, err)
	}
	if e.Type == kvevent.SecretNewVersionCreated {
		return r, h.reapply(ctx, r, kept)
	}
	return r, h.reportExpiry(ctx, r, kept)
}

// reapply sends the kept document of every follower that references the
// secret without a version.
func (h *Events) reapply(ctx context.Context, r *Result, kept []*state.Kept) error {
	e := r.Event
	var targets []*state.Kept
	for _, k := range kept {
		for _, ref := range k.References {
			if uses(ref, e) && ref.Version == "" {
				targets = append(targets, k)
				break
			}
		}
	}
	sort.Slice(targets, func(i, j int) bool { return targets[i].ServicePrincipalID < targets[j].ServicePrincipalID })
	for _, k := range targets {
		r.ServicePrincipals = append(r.ServicePrincipals, k.ServicePrincipalID)
	}
	if len(targets) == 0 {
		r.Reason = h.nobody(e, len(kept), "without a version")
		return nil
	}
	if h.Sender == nil {
		return errNoSender
	}
	r.Action = Reapplied
	for _, k := range targets {
		if err := Reapply(ctx, h.Sender, h.RequestQueue, k, MessageID(e.ID, k.ServicePrincipalID), e.ID, e.NotBefore); err != nil {
			return err
		}
		r.Sent++
	}
	return nil
}

// nobody says why no follower is concerned: candidates is how many kept
// states the index named.
func (h *Events) nobody(e *kvevent.Event, candidates int, how string) string {
	if candidates == 0 {
		return fmt.Sprintf("no followed service principal references secret %s in vault %s", e.Name, e.Vault)
	}
	return fmt.Sprintf("no followed service principal references secret %s in vault %s %s", e.Name, e.Vault, how)
}

// uses reports whether ref names the event's secret (names match case-insensitively).
func uses(ref state.Reference, e *kvevent.Event) bool {
	return strings.EqualFold(ref.Vault, e.Vault) && strings.EqualFold(ref.Name, e.Name)
}

func (h *Events) allowed(vault string) bool {
	for _, v := range h.AllowedVaults {
		if strings.EqualFold(v, vault) {
			return true
		}
	}
	return false
}

func (h *Events) logger() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.New(slog.DiscardHandler)
}
