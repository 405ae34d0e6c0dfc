// Package sbbroker starts and drives a local AMQP 1.0 test broker (broker.js, built on the npm
// package rhea) that stands in for Azure Service Bus, so tests can run the real azservicebus
// client: send, peek-lock receive, complete, abandon, dead-letter, maxDeliveryCount and naive
// sessions. It is a test peer, not a product part; its limits are in README.md next to this file.
//
// The broker needs Node.js and its node_modules: run `make sbbroker-deps` (npm ci) first.
//
//	b := sbbroker.Start(t)
//	b.CreateQueue("requests", sbbroker.QueueOptions{MaxDeliveryCount: 3})
//	client, err := azservicebus.NewClientFromConnectionString(b.ConnectionString(), nil)
package sbbroker

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/putsecrets/putsecrets/standin/internal/node"
)

// FakeSharedAccessKey is the key in ConnectionString. The broker accepts any token, so the key
// only has to make the client sign something; it is deliberately not key-shaped.
const FakeSharedAccessKey = "fake"

// Broker is a running broker process.
type Broker struct {
	amqpPort    int
	controlPort int
	proc        *node.Process

	tb   testing.TB
	http *http.Client
}

// QueueOptions configure a queue. Zero values take Service Bus' defaults.
type QueueOptions struct {
	// MaxDeliveryCount is the number of deliveries after which an abandoned message moves to the
	// dead-letter queue with reason MaxDeliveryCountExceeded (default 10).
	MaxDeliveryCount int
	// RequiresSession makes the queue session-enabled.
	RequiresSession bool
	// LockDuration is the nominal lock duration reported in LockedUntil (default 60 s). Locks
	// expire only when ExpireLocks is called.
	LockDuration time.Duration
	// SessionAcceptTimeout caps how long AcceptNextSessionForQueue waits for a session before it
	// fails with azservicebus.CodeTimeout (default 60 s, like Service Bus; the client's own
	// context deadline shortens it). Short values keep tests of idle session receivers fast.
	SessionAcceptTimeout time.Duration
}

// Message is a message as the broker holds it.
type Message struct {
	SequenceNumber int64
	EnqueuedTime   time.Time
	// DeliveryCount is how many times the broker delivered the message under a lock.
	DeliveryCount int
	// FailedDeliveries counts abandons and lost locks; a receiver sees FailedDeliveries+1 as
	// ReceivedMessage.DeliveryCount on the next delivery.
	FailedDeliveries int
	// State is "available" or "locked".
	State       string
	LockToken   string
	LockedUntil time.Time

	MessageID        string
	CorrelationID    string
	To               string
	Subject          string
	ReplyTo          string
	SessionID        string
	ReplyToSessionID string
	ContentType      string
	TimeToLive       time.Duration

	// ApplicationProperties holds string, int64, uint64, float64, bool, time.Time, []byte or nil
	// values; ApplicationPropertyTypes names each one's AMQP type ("string", "long", "int", ...).
	ApplicationProperties    map[string]any
	ApplicationPropertyTypes map[string]string

	DeadLetterReason           string
	DeadLetterErrorDescription string

	// BodyType is "data" (Body holds the bytes), "value" or "sequence" (Value holds the JSON form).
	BodyType string
	Body     []byte
	Value    any
}

// SendFault makes sends to a queue fail.
type SendFault struct {
	// Condition is the AMQP error condition, e.g. "amqp:not-found",
	// "com.microsoft:entity-disabled", "amqp:unauthorized-access".
	Condition   string
	Description string
	// OnAttach refuses the sender link itself instead of each transfer.
	OnAttach bool
}

// QueueInfo describes a queue.
type QueueInfo struct {
	Name                   string   `json:"name"`
	MaxDeliveryCount       int      `json:"maxDeliveryCount"`
	RequiresSession        bool     `json:"requiresSession"`
	ActiveMessageCount     int      `json:"activeMessageCount"`
	DeadLetterMessageCount int      `json:"deadLetterMessageCount"`
	LockedSessions         []string `json:"lockedSessions"`
	// PendingSessionReceivers counts session receivers waiting for a session to become available.
	PendingSessionReceivers int            `json:"pendingSessionReceivers"`
	Receivers               int            `json:"receivers"`
	DeadLetterReceivers     int            `json:"deadLetterReceivers"`
	Stats                   map[string]int `json:"stats"`
}

// Stats is the broker's overall state.
type Stats struct {
	Connections      int                  `json:"connections"`
	TotalConnections int                  `json:"totalConnections"`
	CBSTokens        int                  `json:"cbsTokens"`
	Locks            int                  `json:"locks"`
	Queues           map[string]QueueInfo `json:"queues"`
}

// CBSToken is a token a client put on $cbs.
type CBSToken struct {
	Audience   string `json:"audience"`
	Type       string `json:"type"`
	Expiration string `json:"expiration"`
	Token      string `json:"token"`
	Refused    int    `json:"refused"`
}

// Start runs a broker for the test and stops it when the test ends. It fails the test if the
// broker cannot start (for example when Node.js or node_modules is missing).
func Start(tb testing.TB) *Broker {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), node.StartTimeout)
	defer cancel()
	b, err := StartProcess(ctx)
	if err != nil {
		tb.Fatalf("%v", err)
	}
	b.tb = tb
	b.proc.StopAtEnd(tb, "sbbroker", b.Close)
	return b
}

// StartProcess runs a broker until Close. ctx bounds only the start.
//
// The broker directory is the one holding this source file, or $SBBROKER_DIR; the node binary is
// found on PATH, or is $SBBROKER_NODE. SBBROKER_VERBOSE=1 makes the broker log every step to
// this process' stderr.
func StartProcess(ctx context.Context) (*Broker, error) {
	args := []string{"--port", "0", "--control-port", "0", "--watch-stdin"}
	verbose := os.Getenv("SBBROKER_VERBOSE") != ""
	if verbose {
		args = append(args, "--verbose")
	}
	// broker.js prints one line on stdout, once both listeners are ready.
	proc, line, err := node.Program{
		Name: "sbbroker", Dir: "standin/sbbroker", Script: "broker.js", Args: args,
		DirEnv: "SBBROKER_DIR", NodeEnv: "SBBROKER_NODE",
		Module: "rhea", Deps: "sbbroker-deps", NodeVersion: "18",
		Verbose: verbose, StopWait: 5 * time.Second, // broker.js --watch-stdin exits when its stdin closes
	}.Start(ctx, func(string) bool { return true })
	if err != nil {
		return nil, err
	}
	b := &Broker{proc: proc, http: &http.Client{Transport: &http.Transport{Proxy: nil}}}
	var rd struct {
		AMQPPort    int `json:"amqpPort"`
		ControlPort int `json:"controlPort"`
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(line)), &rd); err != nil || rd.AMQPPort == 0 || rd.ControlPort == 0 {
		b.Close()
		return nil, fmt.Errorf("sbbroker: no ready line from broker.js (got %q): %s", line, proc.Output())
	}
	b.amqpPort, b.controlPort = rd.AMQPPort, rd.ControlPort
	return b, nil
}

// Close stops the broker. It is safe to call more than once.
func (b *Broker) Close() { b.proc.Stop() }

// Stderr returns the last part of what the broker printed (its log is on stderr).
func (b *Broker) Stderr() string { return b.proc.Output() }

// AMQPPort is the broker's AMQP port on 127.0.0.1.
func (b *Broker) AMQPPort() int { return b.amqpPort }

// ControlURL is the base URL of the broker's control API.
func (b *Broker) ControlURL() string { return fmt.Sprintf("http://127.0.0.1:%d", b.controlPort) }

// ConnectionString returns a connection string the real azservicebus client accepts for this
// broker: the Service Bus emulator form, which makes the client speak plain AMQP (no TLS) to the
// endpoint's host and port. With an entity name it carries EntityPath too.
func (b *Broker) ConnectionString(entity ...string) string {
	cs := fmt.Sprintf("Endpoint=sb://127.0.0.1:%d;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=%s;UseDevelopmentEmulator=true",
		b.amqpPort, FakeSharedAccessKey)
	if len(entity) > 0 && entity[0] != "" {
		cs += ";EntityPath=" + entity[0]
	}
	return cs
}

// CreateQueue creates the queue, or resets it (dropping its messages, dead letters, faults and
// session locks, and detaching its receivers) when it exists.
func (b *Broker) CreateQueue(name string, opts QueueOptions) {
	body := map[string]any{
		"maxDeliveryCount": opts.MaxDeliveryCount,
		"requiresSession":  opts.RequiresSession,
	}
	if opts.LockDuration > 0 {
		body["lockDurationMs"] = opts.LockDuration.Milliseconds()
	}
	if opts.SessionAcceptTimeout > 0 {
		body["sessionAcceptTimeoutMs"] = max(1, opts.SessionAcceptTimeout.Milliseconds())
	}
	b.must(b.Control(context.Background(), http.MethodPut, "/queues/"+url.PathEscape(name), body, nil))
}

// DeleteQueue removes the queue. With auto-creation on (the default), the next link to it
// creates it again.
func (b *Broker) DeleteQueue(name string) {
	b.must(b.Control(context.Background(), http.MethodDelete, "/queues/"+url.PathEscape(name), nil, nil))
}

// SetAutoCreateQueues turns creation of queues on first use on or off. When off, links to an
// unknown queue are refused with amqp:not-found, as Service Bus does.
func (b *Broker) SetAutoCreateQueues(on bool) {
	b.must(b.Control(context.Background(), http.MethodPut, "/settings", map[string]any{"autoCreateQueues": on}, nil))
}

// Queue describes a queue.
func (b *Broker) Queue(name string) QueueInfo {
	var qi QueueInfo
	b.must(b.Control(context.Background(), http.MethodGet, "/queues/"+url.PathEscape(name), nil, &qi))
	return qi
}

// Messages lists the messages of a queue (available and locked), oldest first.
func (b *Broker) Messages(queue string) []Message {
	return b.list(context.Background(), queue, "messages", "")
}

// DeadLetters lists the messages in a queue's dead-letter queue, oldest first.
func (b *Broker) DeadLetters(queue string) []Message {
	return b.list(context.Background(), queue, "deadletter", "")
}

// WaitForMessages waits until the queue holds at least n messages and returns them. It fails
// (the test, or with a panic without one) when ctx ends first.
func (b *Broker) WaitForMessages(ctx context.Context, queue string, n int) []Message {
	return b.wait(ctx, queue, "messages", n, "")
}

// WaitForAvailableMessages waits until at least n messages of the queue are available (not
// locked), for example after a receiver went away without settling.
func (b *Broker) WaitForAvailableMessages(ctx context.Context, queue string, n int) []Message {
	return b.wait(ctx, queue, "messages", n, "available")
}

// WaitForDeadLetters waits until the queue's dead-letter queue holds at least n messages.
func (b *Broker) WaitForDeadLetters(ctx context.Context, queue string, n int) []Message {
	return b.wait(ctx, queue, "deadletter", n, "")
}

func (b *Broker) wait(ctx context.Context, queue, which string, n int, state string) []Message {
	for {
		timeout := 10 * time.Second
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < timeout {
			timeout = time.Until(dl)
		}
		if timeout <= 0 {
			b.must(fmt.Errorf("sbbroker: waiting for %d %s of %s: %w", n, which, queue, context.DeadlineExceeded))
			return nil
		}
		q := url.Values{"wait": {strconv.Itoa(n)}, "timeoutMs": {strconv.FormatInt(timeout.Milliseconds(), 10)}}
		if state != "" {
			q.Set("state", state)
		}
		msgs := b.list(ctx, queue, which, q.Encode())
		if count(msgs, state) >= n {
			return msgs
		}
		if err := ctx.Err(); err != nil {
			b.must(fmt.Errorf("sbbroker: waiting for %d %s of %s (have %d): %w", n, which, queue, count(msgs, state), err))
			return nil
		}
	}
}

func count(msgs []Message, state string) int {
	if state == "" {
		return len(msgs)
	}
	n := 0
	for _, m := range msgs {
		if m.State == state {
			n++
		}
	}
	return n
}

func (b *Broker) list(ctx context.Context, queue, which, query string) []Message {
	path := "/queues/" + url.PathEscape(queue) + "/" + which
	if query != "" {
		path += "?" + query
	}
	var raw []wireMessage
	if err := b.Control(ctx, http.MethodGet, path, nil, &raw); err != nil {
		b.must(err)
		return nil
	}
	out := make([]Message, 0, len(raw))
	for _, w := range raw {
		m, err := w.message()
		if err != nil {
			b.must(err)
			return nil
		}
		out = append(out, m)
	}
	return out
}

// FailSends makes every send to the queue fail with the AMQP error condition (for example
// "amqp:not-found" or "com.microsoft:entity-disabled"); the client's SendMessage returns it.
func (b *Broker) FailSends(queue string, condition string) {
	b.InjectSendFault(queue, SendFault{Condition: condition})
}

// InjectSendFault makes sends to the queue fail as f describes.
func (b *Broker) InjectSendFault(queue string, f SendFault) {
	send := map[string]any{"condition": f.Condition}
	if f.Description != "" {
		send["description"] = f.Description
	}
	if f.OnAttach {
		send["on"] = "attach"
	}
	b.must(b.Control(context.Background(), http.MethodPut, "/queues/"+url.PathEscape(queue)+"/faults", map[string]any{"send": send}, nil))
}

// ExpireLocks makes every message lock on the queue (and its dead-letter queue) expire now, as
// if the receivers had held them past the lock duration: the messages become available again
// with their delivery count + 1 and settling them fails with azservicebus.CodeLockLost. On a
// session queue the session locks expire too and the session receivers are detached. It returns
// how many message locks expired.
func (b *Broker) ExpireLocks(queue string) int {
	var out struct {
		Expired int `json:"expired"`
	}
	b.must(b.Control(context.Background(), http.MethodPost, "/queues/"+url.PathEscape(queue)+"/expire-locks", nil, &out))
	return out.Expired
}

// ClearFaults removes the queue's injected faults.
func (b *Broker) ClearFaults(queue string) {
	b.must(b.Control(context.Background(), http.MethodDelete, "/queues/"+url.PathEscape(queue)+"/faults", nil, nil))
}

// FailCBS makes every $cbs put-token answer with status (e.g. 401); status 0 clears the fault.
func (b *Broker) FailCBS(status int) {
	if status == 0 {
		b.must(b.Control(context.Background(), http.MethodDelete, "/faults/cbs", nil, nil))
		return
	}
	b.must(b.Control(context.Background(), http.MethodPut, "/faults/cbs", map[string]any{"status": status}, nil))
}

// CBSTokens lists the tokens clients put on $cbs (the broker accepts any).
func (b *Broker) CBSTokens() []CBSToken {
	var out []CBSToken
	b.must(b.Control(context.Background(), http.MethodGet, "/cbs", nil, &out))
	return out
}

// Stats returns the broker's counters.
func (b *Broker) Stats() Stats {
	var s Stats
	b.must(b.Control(context.Background(), http.MethodGet, "/stats", nil, &s))
	return s
}

// Control calls the broker's control API (see README.md) with an optional JSON body and decodes
// the JSON answer into out when out is not nil.
func (b *Broker) Control(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		buf, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequestWithContext(ctx, method, b.ControlURL()+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := b.http.Do(req)
	if err != nil {
		return fmt.Errorf("sbbroker: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("sbbroker: %s %s: %w", method, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("sbbroker: %s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(data)))
	}
	if out != nil {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		if err := dec.Decode(out); err != nil {
			return fmt.Errorf("sbbroker: %s %s: decoding answer: %w", method, path, err)
		}
	}
	return nil
}

// must reports a failed control call: with Errorf on the test that started the broker (not
// Fatalf, which must not be called from subtests or other goroutines), after which the method
// returns a zero value; without a test it panics.
func (b *Broker) must(err error) {
	if err == nil {
		return
	}
	if b.tb != nil {
		b.tb.Helper()
		b.tb.Errorf("%v", err)
		return
	}
	panic(err)
}

type wireMessage struct {
	SequenceNumber             int64                      `json:"sequenceNumber"`
	EnqueuedTime               string                     `json:"enqueuedTime"`
	DeliveryCount              int                        `json:"deliveryCount"`
	FailedDeliveries           int                        `json:"failedDeliveries"`
	State                      string                     `json:"state"`
	LockToken                  string                     `json:"lockToken"`
	LockedUntil                string                     `json:"lockedUntil"`
	MessageID                  string                     `json:"messageId"`
	CorrelationID              string                     `json:"correlationId"`
	To                         string                     `json:"to"`
	Subject                    string                     `json:"subject"`
	ReplyTo                    string                     `json:"replyTo"`
	SessionID                  string                     `json:"sessionId"`
	ReplyToSessionID           string                     `json:"replyToSessionId"`
	ContentType                string                     `json:"contentType"`
	TimeToLiveMs               int64                      `json:"timeToLiveMs"`
	ApplicationProperties      map[string]json.RawMessage `json:"applicationProperties"`
	ApplicationPropertyTypes   map[string]string          `json:"applicationPropertyTypes"`
	DeadLetterReason           string                     `json:"deadLetterReason"`
	DeadLetterErrorDescription string                     `json:"deadLetterErrorDescription"`
	BodyType                   string                     `json:"bodyType"`
	Body                       string                     `json:"body"`
	Value                      any                        `json:"value"`
}

func (w wireMessage) message() (Message, error) {
	m := Message{
		SequenceNumber:             w.SequenceNumber,
		DeliveryCount:              w.DeliveryCount,
		FailedDeliveries:           w.FailedDeliveries,
		State:                      w.State,
		LockToken:                  w.LockToken,
		MessageID:                  w.MessageID,
		CorrelationID:              w.CorrelationID,
		To:                         w.To,
		Subject:                    w.Subject,
		ReplyTo:                    w.ReplyTo,
		SessionID:                  w.SessionID,
		ReplyToSessionID:           w.ReplyToSessionID,
		ContentType:                w.ContentType,
		TimeToLive:                 time.Duration(w.TimeToLiveMs) * time.Millisecond,
		ApplicationPropertyTypes:   w.ApplicationPropertyTypes,
		DeadLetterReason:           w.DeadLetterReason,
		DeadLetterErrorDescription: w.DeadLetterErrorDescription,
		BodyType:                   w.BodyType,
		Value:                      w.Value,
	}
	var err error
	if m.EnqueuedTime, err = parseTime(w.EnqueuedTime); err != nil {
		return m, err
	}
	if m.LockedUntil, err = parseTime(w.LockedUntil); err != nil {
		return m, err
	}
	if w.Body != "" {
		if m.Body, err = base64.StdEncoding.DecodeString(w.Body); err != nil {
			return m, fmt.Errorf("sbbroker: message body: %w", err)
		}
	}
	if len(w.ApplicationProperties) > 0 {
		m.ApplicationProperties = make(map[string]any, len(w.ApplicationProperties))
		for k, raw := range w.ApplicationProperties {
			v, err := propertyValue(w.ApplicationPropertyTypes[k], raw)
			if err != nil {
				return m, fmt.Errorf("sbbroker: application property %q: %w", k, err)
			}
			m.ApplicationProperties[k] = v
		}
	}
	return m, nil
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return t, fmt.Errorf("sbbroker: time %q: %w", s, err)
	}
	return t, nil
}

func propertyValue(typ string, raw json.RawMessage) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if v == nil {
		return nil, nil
	}
	text := fmt.Sprint(v)
	switch typ {
	case "long", "int", "short", "byte":
		return strconv.ParseInt(text, 10, 64)
	case "ulong", "uint", "ushort", "ubyte":
		return strconv.ParseUint(text, 10, 64)
	case "double", "float":
		return strconv.ParseFloat(text, 64)
	case "boolean":
		b, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("not a boolean: %s", raw)
		}
		return b, nil
	case "timestamp":
		return time.Parse(time.RFC3339Nano, text)
	case "binary":
		return base64.StdEncoding.DecodeString(text)
	default:
		if n, ok := v.(json.Number); ok {
			return n.String(), nil
		}
		return v, nil
	}
}
