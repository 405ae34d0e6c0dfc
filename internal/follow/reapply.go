package follow

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/google/uuid"

	"github.com/putsecrets/putsecrets/internal/state"
)

// Sender sends one message to a queue; *servicebus.Client (internal/servicebus) implements it.
type Sender interface {
	Send(ctx context.Context, queue string, m *azservicebus.Message) error
}

// contentType is the content type of a re-applied request document.
const contentType = "application/json"

// messageIDSpace namespaces the UUIDs MessageID derives, so that they never
// equal a UUID derived the same way by another program from the same parts.
var messageIDSpace = uuid.MustParse("3f0c9a52-6b1e-4d7a-9c2f-8e5b1a7d4c60")

// Reapply sends the kept document of k to the request queue as an ordinary
// request (docs/contract.md §8): MessageId = messageID, CorrelationId =
// correlationID, SessionId = the service principal ID, ContentType
// application/json, body = k.Document exactly, scheduled for notBefore when
// that lies in the future (ScheduledEnqueueTime).
func Reapply(ctx context.Context, s Sender, requestQueue string, k *state.Kept, messageID, correlationID string, notBefore time.Time) error {
	return reapplyAt(ctx, s, requestQueue, k, messageID, correlationID, notBefore, time.Now())
}

// reapplyAt is Reapply with the current time given.
func reapplyAt(ctx context.Context, s Sender, requestQueue string, k *state.Kept, messageID, correlationID string, notBefore, now time.Time) error {
	switch {
	case k == nil || k.ServicePrincipalID == "":
		return errors.New("reapply: no kept state")
	case len(k.Document) == 0:
		return fmt.Errorf("reapply service principal %s: the kept state has no document", k.ServicePrincipalID)
	case strings.TrimSpace(requestQueue) == "":
		return fmt.Errorf("reapply service principal %s: no request queue", k.ServicePrincipalID)
	case messageID == "":
		return fmt.Errorf("reapply service principal %s: no message ID", k.ServicePrincipalID)
	}
	sp := k.ServicePrincipalID
	ct := contentType
	m := &azservicebus.Message{
		MessageID:   &messageID,
		SessionID:   &sp,
		ContentType: &ct,
		Body:        append([]byte(nil), k.Document...),
	}
	if correlationID != "" {
		m.CorrelationID = &correlationID
	}
	if notBefore.After(now) {
		at := notBefore.UTC()
		m.ScheduledEnqueueTime = &at
	}
	if err := s.Send(ctx, requestQueue, m); err != nil {
		return fmt.Errorf("reapply service principal %s to queue %q: %w", sp, requestQueue, err)
	}
	return nil
}

// MessageID derives a stable MessageId from parts (e.g. the event ID and the
// service principal ID), so that a redelivered event or a repeated reconcile
// is a duplicate that Service Bus duplicate detection drops: a UUID-formatted
// SHA-256 of the parts (36 characters, within Service Bus's 128). The parts
// are length-prefixed, so ("ab","c") and ("a","bc") differ.
func MessageID(parts ...string) string {
	h := sha256.New()
	h.Write(messageIDSpace[:])
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s;", len(p), p)
	}
	sum := h.Sum(nil)
	var u uuid.UUID
	copy(u[:], sum[:16])
	u[6] = (u[6] & 0x0f) | 0x50 // version 5-style: name-based, SHA hash
	u[8] = (u[8] & 0x3f) | 0x80 // RFC 4122 variant
	return u.String()
}
