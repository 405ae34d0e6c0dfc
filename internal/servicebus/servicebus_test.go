package servicebus

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/putsecrets/putsecrets/internal/config"
	"github.com/putsecrets/putsecrets/internal/problem"
	"github.com/putsecrets/putsecrets/internal/provision"
	"github.com/putsecrets/putsecrets/internal/request"
	"github.com/putsecrets/putsecrets/internal/settle"
	"github.com/putsecrets/putsecrets/standin/sbbroker"
)

const sp = "6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c"

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newClient(t *testing.T, b *sbbroker.Broker, opts *Options) *Client {
	t.Helper()
	c, err := New(config.ServiceBus{ConnectionString: b.ConnectionString()}, nil, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = c.Close(ctx)
	})
	return c
}

func TestNew(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		conn    config.ServiceBus
		wantErr string
	}{
		{name: "nothing configured", wantErr: "no Service Bus connection"},
		{name: "emulator connection string, nothing listening: no network I/O",
			conn: config.ServiceBus{ConnectionString: "Endpoint=sb://127.0.0.1:1;SharedAccessKeyName=k;SharedAccessKey=fake;UseDevelopmentEmulator=true"}},
		{name: "connection string without a key", conn: config.ServiceBus{ConnectionString: "Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=k"},
			wantErr: "ServiceBusConnection is not a usable Service Bus connection string"},
		{name: "namespace", conn: config.ServiceBus{Namespace: "contoso.servicebus.windows.net"}},
		{name: "namespace as a URL", conn: config.ServiceBus{Namespace: "sb://contoso.servicebus.windows.net/"}},
		{name: "bare namespace name", conn: config.ServiceBus{Namespace: "contoso"}, wantErr: "not a fully qualified namespace"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := New(tt.conn, fakeCredential{}, nil)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("New: %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if err := c.Close(context.Background()); err != nil {
				t.Errorf("Close of an unused client: %v", err)
			}
		})
	}
}

func TestNamespace(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"contoso.servicebus.windows.net":               "contoso.servicebus.windows.net",
		" Contoso.ServiceBus.Windows.Net ":             "contoso.servicebus.windows.net",
		"sb://contoso.servicebus.windows.net/":         "contoso.servicebus.windows.net",
		"https://contoso.servicebus.usgovcloudapi.net": "contoso.servicebus.usgovcloudapi.net",
		"contoso":                               "",
		"sb://contoso.servicebus.windows.net/q": "",
		"Endpoint=sb://x.servicebus.windows.net/;SharedAccessKey=y": "",
	} {
		got, err := Namespace(in)
		if (err != nil) != (want == "") || got != want {
			t.Errorf("Namespace(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// TestPublish sends outcomes with the real client through the test broker and
// reads them back as Service Bus holds them.
func TestPublish(t *testing.T) {
	t.Parallel()
	b := sbbroker.Start(t)
	b.CreateQueue("replies", sbbroker.QueueOptions{})
	b.CreateQueue("session-replies", sbbroker.QueueOptions{RequiresSession: true})
	c := newClient(t, b, nil)
	ctx := testContext(t)

	res := &provision.Result{ServicePrincipalID: sp, Status: provision.StatusSaved, APIVersion: "v1.0", Keys: []string{"BaseAddress"}, GraphRequestID: "g-1"}
	bad := problem.New(422, "secret \"scim-token\" in vault \"contoso-kv\" does not exist")
	tests := []struct {
		name       string
		o          *settle.Outcome
		wantBody   string
		wantProps  map[string]any
		wantTypes  map[string]string
		wantCT     string
		wantSubj   string
		wantCorr   string
		wantSessID string
	}{
		{
			name:      "success",
			o:         settle.NewOutcome("replies", request.Message{MessageID: "req-1", CorrelationID: "build-7"}, res, nil),
			wantProps: map[string]any{"servicePrincipalId": sp, "status": int64(200), "outcome": "saved", "requestMessageId": "req-1"},
			wantTypes: map[string]string{"servicePrincipalId": "string", "status": "int", "outcome": "string", "requestMessageId": "string"},
			wantCT:    "application/json", wantSubj: settle.SubjectSucceeded, wantCorr: "build-7",
		},
		{
			name:      "permanent failure to a session queue",
			o:         settle.NewOutcome("Session-Replies", request.Message{MessageID: "req-2", ReplyToSessionID: "pipeline-42"}, res, bad),
			wantProps: map[string]any{"servicePrincipalId": sp, "status": int64(422), "outcome": "failed", "requestMessageId": "req-2"},
			wantTypes: map[string]string{"servicePrincipalId": "string", "status": "int", "outcome": "string", "requestMessageId": "string"},
			wantCT:    "application/problem+json", wantSubj: settle.SubjectFailed, wantCorr: "req-2", wantSessID: "pipeline-42",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := c.Publish(ctx, tt.o); err != nil {
				t.Fatalf("Publish: %v", err)
			}
			msgs := b.WaitForMessages(ctx, tt.o.To, 1)
			if len(msgs) != 1 {
				t.Fatalf("queue %s holds %d messages, want 1", tt.o.To, len(msgs))
			}
			m := msgs[0]
			b.CreateQueue(tt.o.To, sbbroker.QueueOptions{RequiresSession: tt.wantSessID != ""}) // empty it for the next case
			if m.MessageID == "" {
				t.Error("outcome has no MessageId")
			}
			if m.CorrelationID != tt.wantCorr || m.Subject != tt.wantSubj || m.SessionID != tt.wantSessID || m.ContentType != tt.wantCT {
				t.Errorf("correlation %q subject %q session %q content type %q, want %q %q %q %q",
					m.CorrelationID, m.Subject, m.SessionID, m.ContentType, tt.wantCorr, tt.wantSubj, tt.wantSessID, tt.wantCT)
			}
			if diff := cmp.Diff(tt.wantProps, m.ApplicationProperties); diff != "" {
				t.Errorf("application properties (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantTypes, m.ApplicationPropertyTypes); diff != "" {
				t.Errorf("application property types (-want +got):\n%s", diff)
			}
			if m.BodyType != "data" || string(m.Body) != string(tt.o.Body) || !json.Valid(m.Body) {
				t.Errorf("body (%s) = %s, want the outcome's JSON %s", m.BodyType, m.Body, tt.o.Body)
			}
		})
	}
}

// TestSenders: one sender per destination (case-insensitive), bounded, and
// a send failure is an error.
func TestSenders(t *testing.T) {
	t.Parallel()
	b := sbbroker.Start(t)
	c := newClient(t, b, &Options{MaxSenders: 2})
	ctx := testContext(t)
	o := func(to string) *settle.Outcome {
		return settle.NewOutcome(to, request.Message{MessageID: "m"}, &provision.Result{ServicePrincipalID: sp, Status: "saved"}, nil)
	}
	for _, to := range []string{"a", "A", "a"} {
		if err := c.Publish(ctx, o(to)); err != nil {
			t.Fatalf("Publish(%s): %v", to, err)
		}
	}
	if n := c.Senders(); n != 1 {
		t.Errorf("senders = %d after three outcomes to one queue, want 1", n)
	}
	for _, to := range []string{"b", "c", "d"} {
		if err := c.Publish(ctx, o(to)); err != nil {
			t.Fatalf("Publish(%s): %v", to, err)
		}
	}
	if n := c.Senders(); n != 2 {
		t.Errorf("senders = %d, want the bound 2", n)
	}
	for q, want := range map[string]int{"a": 3, "b": 1, "c": 1, "d": 1} {
		if got := len(b.WaitForMessages(ctx, q, want)); got != want {
			t.Errorf("queue %s holds %d, want %d", q, got, want)
		}
	}

	b.FailSends("d", "amqp:not-found")
	err := c.Publish(ctx, o("d"))
	if err == nil || !strings.Contains(err.Error(), `queue "d"`) {
		t.Errorf("Publish to a failing queue: %v, want an error naming the queue", err)
	}

	if err := c.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := c.Publish(ctx, o("a")); err == nil {
		t.Error("Publish after Close succeeded")
	}
	if err := c.Close(ctx); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestConcurrentSendsAcrossEviction: senders evicted while in use still
// finish their sends.
func TestConcurrentSendsAcrossEviction(t *testing.T) {
	t.Parallel()
	b := sbbroker.Start(t)
	c := newClient(t, b, &Options{MaxSenders: 1})
	ctx := testContext(t)
	errs := make(chan error, 20)
	for i := range 20 {
		go func() {
			q := fmt.Sprintf("q%d", i%4)
			errs <- c.Publish(ctx, settle.NewOutcome(q, request.Message{MessageID: "m"}, &provision.Result{Status: "saved"}, nil))
		}()
	}
	for range 20 {
		if err := <-errs; err != nil {
			t.Errorf("Publish: %v", err)
		}
	}
	for i := range 4 {
		if n := len(b.WaitForMessages(ctx, fmt.Sprintf("q%d", i), 5)); n != 5 {
			t.Errorf("q%d holds %d, want 5", i, n)
		}
	}
}
