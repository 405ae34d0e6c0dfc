package sbbroker_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/Azure/go-amqp"
	"github.com/google/go-cmp/cmp"

	"github.com/putsecrets/putsecrets/standin/sbbroker"
)

// testTimeout bounds every test; nothing waits on wall-clock time for synchronisation.
const testTimeout = 60 * time.Second

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

func newClient(t *testing.T, b *sbbroker.Broker) *azservicebus.Client {
	t.Helper()
	c, err := azservicebus.NewClientFromConnectionString(b.ConnectionString(), nil)
	if err != nil {
		t.Fatalf("NewClientFromConnectionString: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = c.Close(ctx)
	})
	return c
}

func send(ctx context.Context, t *testing.T, c *azservicebus.Client, queue string, msgs ...*azservicebus.Message) {
	t.Helper()
	s, err := c.NewSender(queue, nil)
	if err != nil {
		t.Fatalf("NewSender(%s): %v", queue, err)
	}
	defer s.Close(ctx)
	for _, m := range msgs {
		if err := s.SendMessage(ctx, m, nil); err != nil {
			t.Fatalf("SendMessage(%s): %v", queue, err)
		}
	}
}

// receiveOne receives exactly one message.
func receiveOne(ctx context.Context, t *testing.T, r interface {
	ReceiveMessages(context.Context, int, *azservicebus.ReceiveMessagesOptions) ([]*azservicebus.ReceivedMessage, error)
}) *azservicebus.ReceivedMessage {
	t.Helper()
	msgs, err := r.ReceiveMessages(ctx, 1, nil)
	if err != nil {
		t.Fatalf("ReceiveMessages: %v", err)
	}
	if len(msgs) != 1 {
		t.Fatalf("ReceiveMessages returned %d messages, want 1", len(msgs))
	}
	return msgs[0]
}

func ptr[T any](v T) *T { return &v }

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// received is the part of a ReceivedMessage the tests compare.
type received struct {
	MessageID, CorrelationID, ReplyTo, ReplyToSessionID, SessionID, Subject, ContentType, To string
	ApplicationProperties                                                                    map[string]any
	Body                                                                                     string
	DeliveryCount                                                                            uint32
	DeadLetterReason, DeadLetterErrorDescription                                             string
}

func project(m *azservicebus.ReceivedMessage) received {
	return received{
		MessageID:                  m.MessageID,
		CorrelationID:              deref(m.CorrelationID),
		ReplyTo:                    deref(m.ReplyTo),
		ReplyToSessionID:           deref(m.ReplyToSessionID),
		SessionID:                  deref(m.SessionID),
		Subject:                    deref(m.Subject),
		ContentType:                deref(m.ContentType),
		To:                         deref(m.To),
		ApplicationProperties:      m.ApplicationProperties,
		Body:                       string(m.Body),
		DeliveryCount:              m.DeliveryCount,
		DeadLetterReason:           deref(m.DeadLetterReason),
		DeadLetterErrorDescription: deref(m.DeadLetterErrorDescription),
	}
}

func TestPropertiesRoundTrip(t *testing.T) {
	b := sbbroker.Start(t)
	c := newClient(t, b)
	when := time.Date(2024, 5, 14, 9, 31, 7, 123_000_000, time.UTC)

	tests := []struct {
		name    string
		session bool
		msg     *azservicebus.Message
		want    received
		// wantTypes are the AMQP types the broker reports for the application properties.
		wantTypes map[string]string
	}{
		{
			name: "all properties",
			msg: &azservicebus.Message{
				MessageID:        ptr("order-1"),
				CorrelationID:    ptr("corr-1"),
				ReplyTo:          ptr("replies"),
				ReplyToSessionID: ptr("reply-session"),
				Subject:          ptr("PutSecrets.Request"),
				ContentType:      ptr("application/json"),
				To:               ptr("somewhere"),
				ApplicationProperties: map[string]any{
					"servicePrincipalId": "6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c",
					"attempt":            int64(3),
					"small":              int32(-7),
					"ratio":              0.25,
					"dryRun":             true,
					"at":                 when,
				},
				Body: []byte(`{"servicePrincipalId":"6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c","secrets":[]}`),
			},
			want: received{
				MessageID: "order-1", CorrelationID: "corr-1", ReplyTo: "replies", ReplyToSessionID: "reply-session",
				Subject: "PutSecrets.Request", ContentType: "application/json", To: "somewhere",
				ApplicationProperties: map[string]any{
					"servicePrincipalId": "6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c",
					"attempt":            int64(3),
					"small":              int32(-7),
					"ratio":              0.25,
					"dryRun":             true,
					"at":                 when,
				},
				Body:          `{"servicePrincipalId":"6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c","secrets":[]}`,
				DeliveryCount: 1,
			},
			wantTypes: map[string]string{
				"servicePrincipalId": "string", "attempt": "long", "small": "int", "ratio": "double",
				"dryRun": "boolean", "at": "timestamp",
			},
		},
		{
			name:      "body only",
			msg:       &azservicebus.Message{Body: []byte("plain")},
			want:      received{Body: "plain", DeliveryCount: 1},
			wantTypes: nil,
		},
		{
			name:    "session message",
			session: true,
			msg: &azservicebus.Message{
				MessageID: ptr("m-s"), SessionID: ptr("6a9b2c1e"), ReplyTo: ptr("replies"),
				ApplicationProperties: map[string]any{"status": "saved"}, Body: []byte("{}"),
			},
			want: received{
				MessageID: "m-s", SessionID: "6a9b2c1e", ReplyTo: "replies",
				ApplicationProperties: map[string]any{"status": "saved"}, Body: "{}", DeliveryCount: 1,
			},
			wantTypes: map[string]string{"status": "string"},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testContext(t)
			queue := fmt.Sprintf("roundtrip-%d", i)
			b.CreateQueue(queue, sbbroker.QueueOptions{RequiresSession: tt.session})
			send(ctx, t, c, queue, tt.msg)

			// what the broker holds
			held := b.Messages(queue)
			if len(held) != 1 {
				t.Fatalf("broker holds %d messages, want 1", len(held))
			}
			h := held[0]
			gotHeld := received{
				MessageID: h.MessageID, CorrelationID: h.CorrelationID, ReplyTo: h.ReplyTo, ReplyToSessionID: h.ReplyToSessionID,
				SessionID: h.SessionID, Subject: h.Subject, ContentType: h.ContentType, To: h.To,
				Body: string(h.Body), DeliveryCount: 1,
			}
			wantHeld := tt.want
			wantHeld.ApplicationProperties = nil
			if diff := cmp.Diff(wantHeld, gotHeld); diff != "" {
				t.Errorf("control API view (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantTypes, h.ApplicationPropertyTypes); len(tt.wantTypes) > 0 && diff != "" {
				t.Errorf("application property types (-want +got):\n%s", diff)
			}
			if h.State != "available" || h.SequenceNumber < 1 || h.EnqueuedTime.IsZero() || h.BodyType != "data" {
				t.Errorf("held message: state %q, sequence %d, enqueued %v, body type %q", h.State, h.SequenceNumber, h.EnqueuedTime, h.BodyType)
			}

			// what the real client receives
			var got *azservicebus.ReceivedMessage
			if tt.session {
				r, err := c.AcceptNextSessionForQueue(ctx, queue, nil)
				if err != nil {
					t.Fatalf("AcceptNextSessionForQueue: %v", err)
				}
				defer r.Close(ctx)
				if r.SessionID() != tt.want.SessionID {
					t.Errorf("SessionReceiver.SessionID() = %q, want %q", r.SessionID(), tt.want.SessionID)
				}
				got = receiveOne(ctx, t, r)
				if err := r.CompleteMessage(ctx, got, nil); err != nil {
					t.Fatalf("CompleteMessage: %v", err)
				}
			} else {
				r, err := c.NewReceiverForQueue(queue, nil)
				if err != nil {
					t.Fatalf("NewReceiverForQueue: %v", err)
				}
				defer r.Close(ctx)
				got = receiveOne(ctx, t, r)
				if err := r.CompleteMessage(ctx, got, nil); err != nil {
					t.Fatalf("CompleteMessage: %v", err)
				}
			}
			if diff := cmp.Diff(tt.want, project(got)); diff != "" {
				t.Errorf("received message (-want +got):\n%s", diff)
			}
			if got.SequenceNumber == nil || *got.SequenceNumber != h.SequenceNumber {
				t.Errorf("SequenceNumber = %v, want %d", got.SequenceNumber, h.SequenceNumber)
			}
			if got.EnqueuedTime == nil || !got.EnqueuedTime.Equal(h.EnqueuedTime) {
				t.Errorf("EnqueuedTime = %v, want %v", got.EnqueuedTime, h.EnqueuedTime)
			}
			if got.LockedUntil == nil || !got.LockedUntil.After(h.EnqueuedTime) {
				t.Errorf("LockedUntil = %v, want a time after %v", got.LockedUntil, h.EnqueuedTime)
			}
			if got.LockToken == ([16]byte{}) {
				t.Error("LockToken is zero")
			}
			if n := len(b.Messages(queue)); n != 0 {
				t.Errorf("after complete the broker holds %d messages, want 0", n)
			}
		})
	}
}

func TestSettlement(t *testing.T) {
	b := sbbroker.Start(t)
	c := newClient(t, b)

	tests := []struct {
		name             string
		maxDeliveryCount int
		// settle does something with the first delivery and checks what follows
		settle func(ctx context.Context, t *testing.T, r *azservicebus.Receiver, m *azservicebus.ReceivedMessage, queue string)
	}{
		{
			name: "complete removes the message",
			settle: func(ctx context.Context, t *testing.T, r *azservicebus.Receiver, m *azservicebus.ReceivedMessage, queue string) {
				if err := r.CompleteMessage(ctx, m, nil); err != nil {
					t.Fatalf("CompleteMessage: %v", err)
				}
				if n := len(b.Messages(queue)); n != 0 {
					t.Errorf("queue holds %d messages, want 0", n)
				}
				if n := len(b.DeadLetters(queue)); n != 0 {
					t.Errorf("dead-letter queue holds %d messages, want 0", n)
				}
			},
		},
		{
			name: "abandon redelivers with delivery count 2",
			settle: func(ctx context.Context, t *testing.T, r *azservicebus.Receiver, m *azservicebus.ReceivedMessage, queue string) {
				if err := r.AbandonMessage(ctx, m, nil); err != nil {
					t.Fatalf("AbandonMessage: %v", err)
				}
				again := receiveOne(ctx, t, r)
				if again.MessageID != m.MessageID || again.DeliveryCount != 2 {
					t.Errorf("redelivery: MessageID %q DeliveryCount %d, want %q and 2", again.MessageID, again.DeliveryCount, m.MessageID)
				}
				if again.LockToken == m.LockToken {
					t.Error("redelivery reuses the lock token")
				}
				if err := r.CompleteMessage(ctx, again, nil); err != nil {
					t.Fatalf("CompleteMessage: %v", err)
				}
			},
		},
		{
			name: "abandon with properties to modify",
			settle: func(ctx context.Context, t *testing.T, r *azservicebus.Receiver, m *azservicebus.ReceivedMessage, queue string) {
				err := r.AbandonMessage(ctx, m, &azservicebus.AbandonMessageOptions{PropertiesToModify: map[string]any{"lastError": "throttled"}})
				if err != nil {
					t.Fatalf("AbandonMessage: %v", err)
				}
				again := receiveOne(ctx, t, r)
				if got := again.ApplicationProperties["lastError"]; got != "throttled" {
					t.Errorf(`ApplicationProperties["lastError"] = %v, want "throttled"`, got)
				}
				if err := r.CompleteMessage(ctx, again, nil); err != nil {
					t.Fatalf("CompleteMessage: %v", err)
				}
			},
		},
		{
			name: "dead-letter with reason and description",
			settle: func(ctx context.Context, t *testing.T, r *azservicebus.Receiver, m *azservicebus.ReceivedMessage, queue string) {
				err := r.DeadLetterMessage(ctx, m, &azservicebus.DeadLetterOptions{
					Reason:           ptr("InvalidRequest"),
					ErrorDescription: ptr(`secrets[1].key: "Nope" is not a synchronization secret name`),
				})
				if err != nil {
					t.Fatalf("DeadLetterMessage: %v", err)
				}
				if n := len(b.Messages(queue)); n != 0 {
					t.Errorf("queue holds %d messages, want 0", n)
				}
				dead := b.DeadLetters(queue)
				if len(dead) != 1 {
					t.Fatalf("dead-letter queue holds %d messages, want 1", len(dead))
				}
				if d := dead[0]; d.MessageID != m.MessageID || d.DeadLetterReason != "InvalidRequest" ||
					d.DeadLetterErrorDescription != `secrets[1].key: "Nope" is not a synchronization secret name` || d.DeliveryCount != 1 {
					t.Errorf("control API dead letter: %+v", d)
				}
				dlr, err := c.NewReceiverForQueue(queue, &azservicebus.ReceiverOptions{SubQueue: azservicebus.SubQueueDeadLetter})
				if err != nil {
					t.Fatalf("NewReceiverForQueue(dead letter): %v", err)
				}
				defer dlr.Close(ctx)
				got := receiveOne(ctx, t, dlr)
				want := project(m)
				want.DeadLetterReason = "InvalidRequest"
				want.DeadLetterErrorDescription = `secrets[1].key: "Nope" is not a synchronization secret name`
				want.ApplicationProperties = map[string]any{
					"origin":                     "test",
					"DeadLetterReason":           want.DeadLetterReason,
					"DeadLetterErrorDescription": want.DeadLetterErrorDescription,
				}
				if diff := cmp.Diff(want, project(got)); diff != "" {
					t.Errorf("message from the dead-letter queue (-want +got):\n%s", diff)
				}
				if err := dlr.CompleteMessage(ctx, got, nil); err != nil {
					t.Fatalf("CompleteMessage on the dead-letter queue: %v", err)
				}
				if n := len(b.DeadLetters(queue)); n != 0 {
					t.Errorf("dead-letter queue holds %d messages after complete, want 0", n)
				}
			},
		},
		{
			name: "an expired lock cannot be settled and the message comes back",
			settle: func(ctx context.Context, t *testing.T, r *azservicebus.Receiver, m *azservicebus.ReceivedMessage, queue string) {
				if n := b.ExpireLocks(queue); n != 1 {
					t.Errorf("ExpireLocks = %d, want 1", n)
				}
				err := r.CompleteMessage(ctx, m, nil)
				var sbErr *azservicebus.Error
				if !errors.As(err, &sbErr) || sbErr.Code != azservicebus.CodeLockLost {
					t.Errorf("CompleteMessage after the lock expired: %v, want an *azservicebus.Error with CodeLockLost", err)
				}
				again := receiveOne(ctx, t, r)
				if again.MessageID != m.MessageID || again.DeliveryCount != 2 {
					t.Errorf("redelivery: MessageID %q DeliveryCount %d, want %q and 2", again.MessageID, again.DeliveryCount, m.MessageID)
				}
				if err := r.CompleteMessage(ctx, again, nil); err != nil {
					t.Fatalf("CompleteMessage: %v", err)
				}
			},
		},
		{
			name:             "maxDeliveryCount exceeded moves to the dead-letter queue",
			maxDeliveryCount: 2,
			settle: func(ctx context.Context, t *testing.T, r *azservicebus.Receiver, m *azservicebus.ReceivedMessage, queue string) {
				if err := r.AbandonMessage(ctx, m, nil); err != nil {
					t.Fatalf("AbandonMessage 1: %v", err)
				}
				second := receiveOne(ctx, t, r)
				if second.DeliveryCount != 2 {
					t.Errorf("second delivery: DeliveryCount %d, want 2", second.DeliveryCount)
				}
				if err := r.AbandonMessage(ctx, second, nil); err != nil {
					t.Fatalf("AbandonMessage 2: %v", err)
				}
				dead := b.WaitForDeadLetters(ctx, queue, 1)
				if len(dead) == 0 {
					t.FailNow()
				}
				if d := dead[0]; d.MessageID != m.MessageID || d.DeadLetterReason != "MaxDeliveryCountExceeded" ||
					d.DeadLetterErrorDescription != "Message could not be consumed after 2 delivery attempts." || d.DeliveryCount != 2 {
					t.Errorf("dead letter: %+v", d)
				}
				if n := len(b.Messages(queue)); n != 0 {
					t.Errorf("queue holds %d messages, want 0", n)
				}
				dlr, err := c.NewReceiverForQueue(queue, &azservicebus.ReceiverOptions{SubQueue: azservicebus.SubQueueDeadLetter})
				if err != nil {
					t.Fatalf("NewReceiverForQueue(dead letter): %v", err)
				}
				defer dlr.Close(ctx)
				got := receiveOne(ctx, t, dlr)
				if deref(got.DeadLetterReason) != "MaxDeliveryCountExceeded" || got.MessageID != m.MessageID {
					t.Errorf("from the dead-letter queue: %+v", project(got))
				}
			},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testContext(t)
			queue := fmt.Sprintf("settle-%d", i)
			b.CreateQueue(queue, sbbroker.QueueOptions{MaxDeliveryCount: tt.maxDeliveryCount})
			send(ctx, t, c, queue, &azservicebus.Message{
				MessageID: ptr(fmt.Sprintf("msg-%d", i)), ApplicationProperties: map[string]any{"origin": "test"}, Body: []byte("{}"),
			})
			r, err := c.NewReceiverForQueue(queue, nil)
			if err != nil {
				t.Fatalf("NewReceiverForQueue: %v", err)
			}
			defer r.Close(ctx)
			m := receiveOne(ctx, t, r)
			if m.DeliveryCount != 1 {
				t.Errorf("first delivery: DeliveryCount %d, want 1", m.DeliveryCount)
			}
			if held := b.Messages(queue); len(held) != 1 || held[0].State != "locked" || held[0].LockedUntil.IsZero() {
				t.Errorf("while locked the broker shows %+v", held)
			}
			tt.settle(ctx, t, r, m, queue)
		})
	}
}

func TestReceiveAndDelete(t *testing.T) {
	b := sbbroker.Start(t)
	c := newClient(t, b)
	ctx := testContext(t)
	b.CreateQueue("rad", sbbroker.QueueOptions{})
	send(ctx, t, c, "rad", &azservicebus.Message{MessageID: ptr("gone"), Body: []byte("x")})
	r, err := c.NewReceiverForQueue("rad", &azservicebus.ReceiverOptions{ReceiveMode: azservicebus.ReceiveModeReceiveAndDelete})
	if err != nil {
		t.Fatalf("NewReceiverForQueue: %v", err)
	}
	defer r.Close(ctx)
	m := receiveOne(ctx, t, r)
	if m.MessageID != "gone" {
		t.Errorf("MessageID = %q", m.MessageID)
	}
	if n := len(b.Messages("rad")); n != 0 {
		t.Errorf("queue holds %d messages, want 0", n)
	}
}

func TestRenewMessageLock(t *testing.T) {
	b := sbbroker.Start(t)
	c := newClient(t, b)
	ctx := testContext(t)
	b.CreateQueue("renew", sbbroker.QueueOptions{LockDuration: 30 * time.Second})
	send(ctx, t, c, "renew", &azservicebus.Message{Body: []byte("x")})
	r, err := c.NewReceiverForQueue("renew", nil)
	if err != nil {
		t.Fatalf("NewReceiverForQueue: %v", err)
	}
	defer r.Close(ctx)
	m := receiveOne(ctx, t, r)
	before := *m.LockedUntil
	if err := r.RenewMessageLock(ctx, m, nil); err != nil {
		t.Fatalf("RenewMessageLock: %v", err)
	}
	if m.LockedUntil == nil || m.LockedUntil.Before(before) {
		t.Errorf("LockedUntil after renewal = %v, before %v", m.LockedUntil, before)
	}
	if err := r.CompleteMessage(ctx, m, nil); err != nil {
		t.Fatalf("CompleteMessage: %v", err)
	}
}

func TestUnsupportedOperationFailsFast(t *testing.T) {
	b := sbbroker.Start(t)
	c := newClient(t, b)
	ctx := testContext(t)
	r, err := c.NewReceiverForQueue("peek", nil)
	if err != nil {
		t.Fatalf("NewReceiverForQueue: %v", err)
	}
	defer r.Close(ctx)
	start := time.Now()
	_, err = r.PeekMessages(ctx, 1, nil)
	if err == nil || !strings.Contains(err.Error(), "sbbroker does not implement com.microsoft:peek-message") {
		t.Errorf("PeekMessages: %v, want the broker's not-implemented answer", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("PeekMessages took %v: the client retried", d)
	}
}

func TestSessions(t *testing.T) {
	b := sbbroker.Start(t)
	c := newClient(t, b)

	t.Run("messages of one session arrive in order", func(t *testing.T) {
		ctx := testContext(t)
		b.CreateQueue("ordered", sbbroker.QueueOptions{RequiresSession: true})
		var msgs []*azservicebus.Message
		for i := range 4 {
			for _, sid := range []string{"A", "B"} {
				msgs = append(msgs, &azservicebus.Message{SessionID: ptr(sid), Body: []byte(fmt.Sprintf("%s-%d", sid, i))})
			}
		}
		send(ctx, t, c, "ordered", msgs...)
		for _, sid := range []string{"A", "B"} {
			r, err := c.AcceptNextSessionForQueue(ctx, "ordered", nil)
			if err != nil {
				t.Fatalf("AcceptNextSessionForQueue: %v", err)
			}
			if r.SessionID() != sid {
				t.Errorf("accepted session %q, want %q (the session of the oldest message)", r.SessionID(), sid)
			}
			// One at a time: with maxMessages > 1 the client keeps spare link credit and releases
			// messages that arrive after ReceiveMessages returned; the broker (like Service Bus)
			// re-queues a released message behind those already in flight, so a batch receive on
			// a session can come back out of order.
			var got []string
			for len(got) < 4 {
				batch, err := r.ReceiveMessages(ctx, 1, nil)
				if err != nil {
					t.Fatalf("ReceiveMessages: %v", err)
				}
				for _, m := range batch {
					if deref(m.SessionID) != sid {
						t.Errorf("session %s receiver got a message of session %q", sid, deref(m.SessionID))
					}
					got = append(got, string(m.Body))
					if err := r.CompleteMessage(ctx, m, nil); err != nil {
						t.Fatalf("CompleteMessage: %v", err)
					}
				}
			}
			want := []string{sid + "-0", sid + "-1", sid + "-2", sid + "-3"}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("order in session %s (-want +got):\n%s", sid, diff)
			}
			if err := r.Close(ctx); err != nil {
				t.Errorf("SessionReceiver.Close: %v", err)
			}
		}
	})

	t.Run("two sessions in parallel on two receivers", func(t *testing.T) {
		ctx := testContext(t)
		b.CreateQueue("parallel", sbbroker.QueueOptions{RequiresSession: true})
		send(ctx, t, c, "parallel",
			&azservicebus.Message{SessionID: ptr("sp-1"), Body: []byte("1a")},
			&azservicebus.Message{SessionID: ptr("sp-2"), Body: []byte("2a")},
			&azservicebus.Message{SessionID: ptr("sp-1"), Body: []byte("1b")},
			&azservicebus.Message{SessionID: ptr("sp-2"), Body: []byte("2b")},
		)
		r1, err := c.AcceptNextSessionForQueue(ctx, "parallel", nil)
		if err != nil {
			t.Fatalf("AcceptNextSessionForQueue 1: %v", err)
		}
		defer r1.Close(ctx)
		r2, err := c.AcceptNextSessionForQueue(ctx, "parallel", nil)
		if err != nil {
			t.Fatalf("AcceptNextSessionForQueue 2: %v", err)
		}
		defer r2.Close(ctx)
		if r1.SessionID() == r2.SessionID() {
			t.Fatalf("both receivers hold session %q", r1.SessionID())
		}
		locked := b.Queue("parallel").LockedSessions
		if len(locked) != 2 {
			t.Errorf("locked sessions %v, want both", locked)
		}

		// a held session cannot be accepted by name
		_, err = c.AcceptSessionForQueue(ctx, "parallel", r1.SessionID(), nil)
		var amqpErr *amqp.Error
		if !errors.As(err, &amqpErr) || amqpErr.Condition != "com.microsoft:session-cannot-be-locked" {
			t.Errorf("AcceptSessionForQueue on a held session: %v, want com.microsoft:session-cannot-be-locked", err)
		}

		var wg sync.WaitGroup
		results := make([][]string, 2)
		for i, r := range []*azservicebus.SessionReceiver{r1, r2} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for len(results[i]) < 2 {
					batch, err := r.ReceiveMessages(ctx, 1, nil)
					if err != nil {
						t.Errorf("session %s: ReceiveMessages: %v", r.SessionID(), err)
						return
					}
					for _, m := range batch {
						results[i] = append(results[i], string(m.Body))
						if err := r.CompleteMessage(ctx, m, nil); err != nil {
							t.Errorf("session %s: CompleteMessage: %v", r.SessionID(), err)
							return
						}
					}
				}
			}()
		}
		wg.Wait()
		for i, r := range []*azservicebus.SessionReceiver{r1, r2} {
			prefix := strings.TrimPrefix(r.SessionID(), "sp-")
			want := []string{prefix + "a", prefix + "b"}
			if diff := cmp.Diff(want, results[i]); diff != "" {
				t.Errorf("session %s (-want +got):\n%s", r.SessionID(), diff)
			}
		}
	})

	t.Run("closing a session receiver releases the session and its messages", func(t *testing.T) {
		ctx := testContext(t)
		b.CreateQueue("release", sbbroker.QueueOptions{RequiresSession: true})
		send(ctx, t, c, "release", &azservicebus.Message{SessionID: ptr("s"), MessageID: ptr("m1"), Body: []byte("x")})
		r, err := c.AcceptNextSessionForQueue(ctx, "release", nil)
		if err != nil {
			t.Fatalf("AcceptNextSessionForQueue: %v", err)
		}
		first := receiveOne(ctx, t, r)
		if err := r.Close(ctx); err != nil {
			t.Fatalf("Close: %v", err)
		}
		b.WaitForAvailableMessages(ctx, "release", 1)
		r2, err := c.AcceptNextSessionForQueue(ctx, "release", nil)
		if err != nil {
			t.Fatalf("AcceptNextSessionForQueue again: %v", err)
		}
		defer r2.Close(ctx)
		again := receiveOne(ctx, t, r2)
		if again.MessageID != first.MessageID || again.DeliveryCount != 1 {
			t.Errorf("after the session was released: MessageID %q DeliveryCount %d, want %q and 1", again.MessageID, again.DeliveryCount, first.MessageID)
		}
		if err := r2.CompleteMessage(ctx, again, nil); err != nil {
			t.Fatalf("CompleteMessage: %v", err)
		}
	})

	t.Run("an expired session lock detaches the session receiver", func(t *testing.T) {
		ctx := testContext(t)
		b.CreateQueue("session-expiry", sbbroker.QueueOptions{RequiresSession: true})
		send(ctx, t, c, "session-expiry", &azservicebus.Message{SessionID: ptr("s"), MessageID: ptr("m1"), Body: []byte("x")})
		r, err := c.AcceptNextSessionForQueue(ctx, "session-expiry", nil)
		if err != nil {
			t.Fatalf("AcceptNextSessionForQueue: %v", err)
		}
		defer r.Close(ctx)
		m := receiveOne(ctx, t, r)
		b.ExpireLocks("session-expiry")
		// On a session receiver the client treats a lost lock as recoverable and retries the
		// settlement with its fixed default policy (3 retries from 4 s, whatever the client's
		// RetryOptions) before returning CodeLockLost; bound the call instead of waiting ~45 s.
		short, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		if err := r.CompleteMessage(short, m, nil); err == nil {
			t.Error("CompleteMessage after the session lock expired succeeded")
		}
		// The first ReceiveMessages meets the detached link and returns (nil, nil): the client
		// reports a link failure only through the next call, which re-attaches to the session.
		var again *azservicebus.ReceivedMessage
		for again == nil {
			msgs, err := r.ReceiveMessages(ctx, 1, nil)
			if err != nil {
				t.Fatalf("ReceiveMessages: %v", err)
			}
			if len(msgs) == 1 {
				again = msgs[0]
			}
		}
		if again.MessageID != "m1" || again.DeliveryCount != 2 {
			t.Errorf("redelivery: MessageID %q DeliveryCount %d, want m1 and 2", again.MessageID, again.DeliveryCount)
		}
		if err := r.CompleteMessage(ctx, again, nil); err != nil {
			t.Fatalf("CompleteMessage: %v", err)
		}
	})

	for _, tt := range []struct {
		name        string
		serverLimit time.Duration // the queue's SessionAcceptTimeout
		clientLimit time.Duration // the caller's context deadline, sent as com.microsoft:timeout
	}{
		{name: "queue limit", serverLimit: 300 * time.Millisecond, clientLimit: testTimeout},
		{name: "client deadline", clientLimit: 3 * time.Second},
	} {
		t.Run("no session available times out: "+tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(testContext(t), tt.clientLimit)
			defer cancel()
			queue := "empty-sessions-" + strings.ReplaceAll(tt.name, " ", "-")
			b.CreateQueue(queue, sbbroker.QueueOptions{RequiresSession: true, SessionAcceptTimeout: tt.serverLimit})
			_, err := c.AcceptNextSessionForQueue(ctx, queue, nil)
			var sbErr *azservicebus.Error
			if !errors.As(err, &sbErr) || sbErr.Code != azservicebus.CodeTimeout {
				t.Errorf("AcceptNextSessionForQueue on an empty queue: %v, want an *azservicebus.Error with CodeTimeout", err)
			}
		})
	}

	t.Run("a waiting session receiver gets a session that arrives later", func(t *testing.T) {
		ctx := testContext(t)
		b.CreateQueue("late", sbbroker.QueueOptions{RequiresSession: true})
		accepted := make(chan *azservicebus.SessionReceiver, 1)
		go func() {
			r, err := c.AcceptNextSessionForQueue(ctx, "late", nil)
			if err != nil {
				t.Errorf("AcceptNextSessionForQueue: %v", err)
			}
			accepted <- r
		}()
		// the receiver is parked in the broker before the message is sent
		waitFor(ctx, t, func() bool { return b.Queue("late").PendingSessionReceivers == 1 })
		send(ctx, t, c, "late", &azservicebus.Message{SessionID: ptr("late-1"), Body: []byte("x")})
		r := <-accepted
		if r == nil {
			return
		}
		defer r.Close(ctx)
		if r.SessionID() != "late-1" {
			t.Errorf("SessionID() = %q, want late-1", r.SessionID())
		}
	})

	t.Run("plain receiver and sessionless send are refused on a session queue", func(t *testing.T) {
		ctx := testContext(t)
		b.CreateQueue("needs-session", sbbroker.QueueOptions{RequiresSession: true})
		r, err := c.NewReceiverForQueue("needs-session", nil)
		if err != nil {
			t.Fatalf("NewReceiverForQueue: %v", err)
		}
		defer r.Close(ctx)
		_, err = r.ReceiveMessages(ctx, 1, nil)
		var amqpErr *amqp.Error
		if !errors.As(err, &amqpErr) || amqpErr.Condition != amqp.ErrCondNotAllowed {
			t.Errorf("ReceiveMessages with a plain receiver: %v, want amqp:not-allowed", err)
		}
		s, err := c.NewSender("needs-session", nil)
		if err != nil {
			t.Fatalf("NewSender: %v", err)
		}
		defer s.Close(ctx)
		err = s.SendMessage(ctx, &azservicebus.Message{Body: []byte("x")}, nil)
		if !errors.As(err, &amqpErr) || amqpErr.Condition != amqp.ErrCondNotAllowed {
			t.Errorf("SendMessage without SessionID: %v, want amqp:not-allowed", err)
		}

		b.CreateQueue("plain", sbbroker.QueueOptions{})
		_, err = c.AcceptSessionForQueue(ctx, "plain", "s", nil)
		if !errors.As(err, &amqpErr) || amqpErr.Condition != amqp.ErrCondNotAllowed {
			t.Errorf("AcceptSessionForQueue on a queue without sessions: %v, want amqp:not-allowed", err)
		}
	})
}

// waitFor polls the broker's state for a condition that has no event to wait on; it is bounded
// by ctx and yields between checks.
func waitFor(ctx context.Context, t *testing.T, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("condition not met: %v", ctx.Err())
		case <-tick.C:
		}
	}
}

func TestSendFailures(t *testing.T) {
	b := sbbroker.Start(t)
	c := newClient(t, b)

	tests := []struct {
		name          string
		fault         *sbbroker.SendFault
		noAutoCreate  bool
		wantCondition amqp.ErrCond
		wantCode      azservicebus.Code
	}{
		{name: "transfer rejected: not found", fault: &sbbroker.SendFault{Condition: "amqp:not-found"}, wantCondition: amqp.ErrCondNotFound},
		{name: "transfer rejected: entity disabled", fault: &sbbroker.SendFault{Condition: "com.microsoft:entity-disabled"}, wantCondition: "com.microsoft:entity-disabled"},
		// *azservicebus.Error has no Unwrap: the AMQP condition is visible only in its text.
		{name: "transfer rejected: unauthorized", fault: &sbbroker.SendFault{Condition: "amqp:unauthorized-access"}, wantCode: azservicebus.CodeUnauthorizedAccess},
		{name: "link refused: not found", fault: &sbbroker.SendFault{Condition: "amqp:not-found", OnAttach: true}, wantCondition: amqp.ErrCondNotFound},
		{name: "unknown queue without auto-creation", noAutoCreate: true, wantCondition: amqp.ErrCondNotFound},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testContext(t)
			queue := fmt.Sprintf("failing-%d", i)
			if tt.noAutoCreate {
				b.SetAutoCreateQueues(false)
				defer b.SetAutoCreateQueues(true)
			} else {
				b.CreateQueue(queue, sbbroker.QueueOptions{})
				b.InjectSendFault(queue, *tt.fault)
			}
			s, err := c.NewSender(queue, nil)
			if err != nil {
				t.Fatalf("NewSender: %v", err)
			}
			defer s.Close(ctx)
			err = s.SendMessage(ctx, &azservicebus.Message{Body: []byte("x")}, nil)
			if err == nil {
				t.Fatal("SendMessage succeeded, want an error")
			}
			var amqpErr *amqp.Error
			if tt.wantCondition != "" && (!errors.As(err, &amqpErr) || amqpErr.Condition != tt.wantCondition) {
				t.Errorf("SendMessage: %v, want AMQP condition %s", err, tt.wantCondition)
			}
			var sbErr *azservicebus.Error
			if tt.wantCode != "" && (!errors.As(err, &sbErr) || sbErr.Code != tt.wantCode) {
				t.Errorf("SendMessage: %v, want an *azservicebus.Error with code %s", err, tt.wantCode)
			}
			if !tt.noAutoCreate {
				if n := len(b.Messages(queue)); n != 0 {
					t.Errorf("queue holds %d messages after a refused send, want 0", n)
				}
			}

			// the same sender works once the fault is gone
			if tt.noAutoCreate {
				b.SetAutoCreateQueues(true)
			} else {
				b.ClearFaults(queue)
			}
			if err := s.SendMessage(ctx, &azservicebus.Message{Body: []byte("y")}, nil); err != nil {
				t.Fatalf("SendMessage after the fault was cleared: %v", err)
			}
			if n := len(b.Messages(queue)); n != 1 {
				t.Errorf("queue holds %d messages, want 1", n)
			}
		})
	}
}

func TestCBS(t *testing.T) {
	b := sbbroker.Start(t)
	c := newClient(t, b)
	ctx := testContext(t)
	send(ctx, t, c, "audit", &azservicebus.Message{Body: []byte("x")})

	audiences := map[string]string{}
	for _, tok := range b.CBSTokens() {
		audiences[tok.Audience] = tok.Type
		if !strings.HasPrefix(tok.Token, "SharedAccessSignature ") {
			t.Errorf("token for %s does not look like a SAS token", tok.Audience)
		}
	}
	base := fmt.Sprintf("amqp://127.0.0.1:%d/", b.AMQPPort())
	want := map[string]string{
		base + "audit":             "servicebus.windows.net:sastoken",
		base + "audit/$management": "servicebus.windows.net:sastoken",
	}
	if diff := cmp.Diff(want, audiences); diff != "" {
		t.Errorf("CBS audiences (-want +got):\n%s", diff)
	}

	b.FailCBS(401)
	defer b.FailCBS(0)
	c2 := newClient(t, b)
	s, err := c2.NewSender("audit", nil)
	if err != nil {
		t.Fatalf("NewSender: %v", err)
	}
	err = s.SendMessage(ctx, &azservicebus.Message{Body: []byte("x")}, nil)
	var sbErr *azservicebus.Error
	if !errors.As(err, &sbErr) || sbErr.Code != azservicebus.CodeUnauthorizedAccess {
		t.Errorf("SendMessage with $cbs refusing tokens: %v, want CodeUnauthorizedAccess", err)
	}
}

func TestClientClose(t *testing.T) {
	b := sbbroker.Start(t)
	ctx := testContext(t)
	b.CreateQueue("held", sbbroker.QueueOptions{})
	c, err := azservicebus.NewClientFromConnectionString(b.ConnectionString(), nil)
	if err != nil {
		t.Fatalf("NewClientFromConnectionString: %v", err)
	}
	send(ctx, t, c, "held", &azservicebus.Message{MessageID: ptr("held-1"), Body: []byte("x")})
	r, err := c.NewReceiverForQueue("held", nil)
	if err != nil {
		t.Fatalf("NewReceiverForQueue: %v", err)
	}
	s, err := c.NewSender("held", nil)
	if err != nil {
		t.Fatalf("NewSender: %v", err)
	}
	receiveOne(ctx, t, r) // locked, never settled

	if err := c.Close(ctx); err != nil {
		t.Fatalf("Client.Close: %v", err)
	}
	err = s.SendMessage(ctx, &azservicebus.Message{Body: []byte("y")}, nil)
	var sbErr *azservicebus.Error
	if !errors.As(err, &sbErr) || sbErr.Code != azservicebus.CodeClosed {
		t.Errorf("SendMessage after Client.Close: %v, want CodeClosed", err)
	}

	// the lock went with the connection: the message is available again and counts as a failed delivery
	held := b.WaitForAvailableMessages(ctx, "held", 1)
	if len(held) == 0 {
		t.FailNow()
	}
	if held[0].FailedDeliveries != 1 {
		t.Errorf("FailedDeliveries = %d, want 1", held[0].FailedDeliveries)
	}
	waitFor(ctx, t, func() bool { return b.Stats().Connections == 0 })

	c2 := newClient(t, b)
	r2, err := c2.NewReceiverForQueue("held", nil)
	if err != nil {
		t.Fatalf("NewReceiverForQueue: %v", err)
	}
	again := receiveOne(ctx, t, r2)
	if again.MessageID != "held-1" || again.DeliveryCount != 2 {
		t.Errorf("redelivery: MessageID %q DeliveryCount %d, want held-1 and 2", again.MessageID, again.DeliveryCount)
	}
}

// TestManyDeliveriesOnOneLink pushes more deliveries through one receiver than rhea's
// per-session delivery buffer holds (2048), so settled deliveries must be freed.
func TestManyDeliveriesOnOneLink(t *testing.T) {
	b := sbbroker.Start(t)
	c := newClient(t, b)
	ctx := testContext(t)
	const total = 2600
	b.CreateQueue("bulk", sbbroker.QueueOptions{})
	s, err := c.NewSender("bulk", nil)
	if err != nil {
		t.Fatalf("NewSender: %v", err)
	}
	defer s.Close(ctx)
	for sent := 0; sent < total; {
		batch, err := s.NewMessageBatch(ctx, nil)
		if err != nil {
			t.Fatalf("NewMessageBatch: %v", err)
		}
		for ; sent < total; sent++ {
			err := batch.AddMessage(&azservicebus.Message{Body: []byte(fmt.Sprintf("m-%d", sent))}, nil)
			if errors.Is(err, azservicebus.ErrMessageTooLarge) {
				break
			}
			if err != nil {
				t.Fatalf("AddMessage: %v", err)
			}
		}
		if err := s.SendMessageBatch(ctx, batch, nil); err != nil {
			t.Fatalf("SendMessageBatch: %v", err)
		}
	}
	if n := b.Queue("bulk").ActiveMessageCount; n != total {
		t.Fatalf("queue holds %d messages, want %d", n, total)
	}
	r, err := c.NewReceiverForQueue("bulk", nil)
	if err != nil {
		t.Fatalf("NewReceiverForQueue: %v", err)
	}
	defer r.Close(ctx)
	seen := map[string]bool{}
	for len(seen) < total {
		msgs, err := r.ReceiveMessages(ctx, 50, nil)
		if err != nil {
			t.Fatalf("ReceiveMessages after %d: %v", len(seen), err)
		}
		for _, m := range msgs {
			seen[string(m.Body)] = true
			if err := r.CompleteMessage(ctx, m, nil); err != nil {
				t.Fatalf("CompleteMessage: %v", err)
			}
		}
	}
	if n := b.Queue("bulk").ActiveMessageCount; n != 0 {
		t.Errorf("queue holds %d messages after completing all, want 0", n)
	}
}
