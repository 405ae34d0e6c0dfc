// Package servicebus is the process's Azure Service Bus client: built once
// from the same settings as the PutSecretsFromQueue trigger, without network
// I/O, with one sender per destination queue kept for reuse, all closed by
// Close. It sends the outcome messages of docs/contract.md §4 (Publish implements
// settle.Publisher) and the request messages of the enqueue command, and gives
// the worker command its receivers.
//
// The connection is either a connection string (ServiceBusConnection; the
// emulator form "…;UseDevelopmentEmulator=true" speaks plain AMQP to the
// endpoint's host and port) or a fully qualified namespace
// (ServiceBusConnection__fullyQualifiedNamespace) with the token credential
// New is given (the handler passes the app's, for the identity
// ServiceBusConnection__clientId names).
package servicebus

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/google/uuid"

	"github.com/putsecrets/putsecrets/internal/config"
	"github.com/putsecrets/putsecrets/internal/settle"
)

// ApplicationID identifies the app to Service Bus (the AMQP user agent).
const ApplicationID = "putsecrets"

// DefaultMaxSenders bounds the senders kept open. Outcome destinations come
// from the requests' ReplyTo, so the set is not under the app's control: the
// least recently used idle sender is closed beyond the bound.
const DefaultMaxSenders = 64

// closeTimeout bounds closing an evicted sender.
const closeTimeout = 10 * time.Second

// Options configure a Client.
type Options struct {
	// MaxSenders bounds the senders kept open (default DefaultMaxSenders).
	MaxSenders int
	// ClientOptions are passed to azservicebus (ApplicationID is set when empty).
	ClientOptions *azservicebus.ClientOptions
}

// Client is the process's one Service Bus client. It is safe for concurrent use.
type Client struct {
	sdk        *azservicebus.Client
	maxSenders int

	mu      sync.Mutex
	senders map[string]*sender
	clock   uint64
	closed  bool
}

// sender is a cached sender and its users.
type sender struct {
	queue    string
	s        *azservicebus.Sender
	users    int
	lastUsed uint64
	evicted  bool
}

// ErrNotConfigured is returned by New when neither a connection string nor a
// namespace is set.
var ErrNotConfigured = errors.New("no Service Bus connection: set ServiceBusConnection (connection string) or " +
	"ServiceBusConnection__fullyQualifiedNamespace (identity)")

// New builds the client from the connection settings. cred is used for a
// namespace (identity-based connection) and may be nil for a connection
// string. Nothing here does network I/O: the connection is opened on first use.
func New(conn config.ServiceBus, cred azcore.TokenCredential, opts *Options) (*Client, error) {
	if opts == nil {
		opts = &Options{}
	}
	co := azservicebus.ClientOptions{}
	if opts.ClientOptions != nil {
		co = *opts.ClientOptions
	}
	if co.ApplicationID == "" {
		co.ApplicationID = ApplicationID
	}
	var sdk *azservicebus.Client
	var err error
	switch {
	case conn.ConnectionString != "":
		sdk, err = azservicebus.NewClientFromConnectionString(conn.ConnectionString, &co)
		if err != nil {
			// The SDK's parse errors name keys and the endpoint, never the key's value.
			return nil, fmt.Errorf("%s is not a usable Service Bus connection string "+
				"(Endpoint=sb://…;SharedAccessKeyName=…;SharedAccessKey=…, or the emulator's form with UseDevelopmentEmulator=true): %w",
				config.SettingServiceBusConnection, err)
		}
	case conn.Namespace != "":
		ns, err := Namespace(conn.Namespace)
		if err != nil {
			return nil, err
		}
		if cred == nil {
			return nil, errors.New("an identity-based Service Bus connection needs a credential")
		}
		sdk, err = azservicebus.NewClient(ns, cred, &co)
		if err != nil {
			return nil, fmt.Errorf("service bus client for %s: %w", ns, err)
		}
	default:
		return nil, ErrNotConfigured
	}
	max := opts.MaxSenders
	if max <= 0 {
		max = DefaultMaxSenders
	}
	return &Client{sdk: sdk, maxSenders: max, senders: map[string]*sender{}}, nil
}

// Namespace returns the fully qualified namespace a setting names:
// "contoso.servicebus.windows.net", also written as a URL
// ("sb://contoso.servicebus.windows.net/").
func Namespace(s string) (string, error) {
	s = strings.TrimSpace(s)
	host := s
	if strings.Contains(s, "://") {
		u, err := url.Parse(s)
		if err != nil || (u.Path != "" && u.Path != "/") {
			return "", fmt.Errorf("%s: %q is not a fully qualified namespace such as contoso.servicebus.windows.net",
				config.SettingServiceBusNamespace, s)
		}
		host = u.Host
	}
	host = strings.TrimSuffix(host, "/")
	if !strings.Contains(host, ".") || strings.ContainsAny(host, "/;@ ") {
		return "", fmt.Errorf("%s: %q is not a fully qualified namespace such as contoso.servicebus.windows.net",
			config.SettingServiceBusNamespace, s)
	}
	return strings.ToLower(host), nil
}

// SDK returns the azservicebus client, for receivers.
func (c *Client) SDK() *azservicebus.Client { return c.sdk }

// Send sends m to the queue with the queue's cached sender.
func (c *Client) Send(ctx context.Context, queueName string, m *azservicebus.Message) error {
	s, err := c.acquire(queueName)
	if err != nil {
		return err
	}
	defer c.release(s)
	if err := s.s.SendMessage(ctx, m, nil); err != nil {
		return fmt.Errorf("send to queue %q: %w", queueName, err)
	}
	return nil
}

// Publish sends an outcome message (docs/contract.md §4) to its destination. The
// message gets a new MessageId; its CorrelationId, SessionId, Subject,
// ContentType, application properties and body are the outcome's.
func (c *Client) Publish(ctx context.Context, o *settle.Outcome) error {
	m := &azservicebus.Message{
		MessageID:             ptr(uuid.NewString()),
		CorrelationID:         ptrOrNil(o.CorrelationID),
		SessionID:             ptrOrNil(o.SessionID),
		Subject:               ptrOrNil(o.Subject),
		ContentType:           ptrOrNil(o.ContentType),
		ApplicationProperties: o.ApplicationProperties,
		Body:                  o.Body,
	}
	return c.Send(ctx, o.To, m)
}

var _ settle.Publisher = (*Client)(nil)

func (c *Client) acquire(queueName string) (*sender, error) {
	name := strings.TrimSpace(queueName)
	if name == "" {
		return nil, errors.New("no queue named")
	}
	key := strings.ToLower(name) // Service Bus entity names are case-insensitive
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, errors.New("service bus client is closed")
	}
	c.clock++
	if s, ok := c.senders[key]; ok {
		s.users++
		s.lastUsed = c.clock
		return s, nil
	}
	as, err := c.sdk.NewSender(name, nil) // no network I/O: the link opens on first send
	if err != nil {
		return nil, fmt.Errorf("sender for queue %q: %w", name, err)
	}
	s := &sender{queue: name, s: as, users: 1, lastUsed: c.clock}
	c.senders[key] = s
	if len(c.senders) > c.maxSenders {
		c.evictLocked(key)
	}
	return s, nil
}

// evictLocked drops the least recently used sender other than keep; it is
// closed once its last user is done.
func (c *Client) evictLocked(keep string) {
	var oldestKey string
	var oldest *sender
	for k, s := range c.senders {
		if k != keep && (oldest == nil || s.lastUsed < oldest.lastUsed) {
			oldestKey, oldest = k, s
		}
	}
	if oldest == nil {
		return
	}
	delete(c.senders, oldestKey)
	oldest.evicted = true
	if oldest.users == 0 {
		go closeSender(oldest.s)
	}
}

func (c *Client) release(s *sender) {
	c.mu.Lock()
	s.users--
	closeNow := s.evicted && s.users == 0
	c.mu.Unlock()
	if closeNow {
		closeSender(s.s)
	}
}

func closeSender(s *azservicebus.Sender) {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	_ = s.Close(ctx)
}

// Close closes every sender and the connection. Sends after Close fail.
func (c *Client) Close(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	senders := c.senders
	c.senders = map[string]*sender{}
	c.mu.Unlock()
	var errs []error
	for _, s := range senders {
		if err := s.s.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("close sender for queue %q: %w", s.queue, err))
		}
	}
	if err := c.sdk.Close(ctx); err != nil {
		errs = append(errs, fmt.Errorf("close service bus client: %w", err))
	}
	return errors.Join(errs...)
}

func ptr[T any](v T) *T { return &v }

func ptrOrNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
