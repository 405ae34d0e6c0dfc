package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/google/uuid"

	"github.com/putsecrets/putsecrets/internal/config"
)

// enqueueTimeout bounds connecting and sending, so a pipeline step cannot hang.
const enqueueTimeout = 2 * time.Minute

// enqueued is what enqueue prints on success: one JSON object, for jq.
type enqueued struct {
	Queue              string   `json:"queue"`
	MessageID          string   `json:"messageId"`
	CorrelationID      string   `json:"correlationId,omitempty"`
	SessionID          string   `json:"sessionId"`
	ReplyTo            string   `json:"replyTo,omitempty"`
	ServicePrincipalID string   `json:"servicePrincipalId"`
	Keys               []string `json:"keys"`
}

// runEnqueue validates a request document with the functions' own parser and
// policy and, only when it is valid, sends it to the request queue
// (docs/contract.md §6). The body is the document's bytes as given.
func runEnqueue(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlags("enqueue", stderr)
	file := fs.String("file", "-", "request document to send (- for standard input)")
	queueName := fs.String("queue", "", "request queue (default: PUTSECRETS_QUEUE, else "+config.DefaultQueue+")")
	var conn connectionFlags
	fs.StringVar(&conn.namespace, "namespace", "", "fully qualified Service Bus namespace, reached with the Azure identity "+
		"(default: ServiceBusConnection__fullyQualifiedNamespace)")
	fs.StringVar(&conn.connectionString, "connection-string", "", "Service Bus connection string (default: ServiceBusConnection)")
	replyTo := fs.String("reply-to", "", "queue for the outcome message (ReplyTo)")
	correlationID := fs.String("correlation-id", "", "CorrelationId the outcome will carry (default: the MessageId)")
	messageID := fs.String("message-id", "", "MessageId (default: a new UUID)")
	sessionID := fs.String("session-id", "", "SessionId (default: the service principal ID)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	// Validate before anything touches the network: an invalid document is
	// never sent.
	w, err := loadWiring(getenv, stdout, false)
	if err != nil {
		return fmt.Errorf("%w; nothing was sent", err)
	}
	req, body, err := w.loadDocument(*file, stderr)
	if err != nil {
		return fmt.Errorf("%w; nothing was sent", err)
	}
	cfg := w.cfg
	c, err := conn.connection(cfg.ServiceBus)
	if err != nil {
		return err
	}

	out := enqueued{
		Queue:              orDefault(*queueName, cfg.Queue),
		MessageID:          orDefault(*messageID, uuid.NewString()),
		CorrelationID:      *correlationID,
		SessionID:          orDefault(*sessionID, req.ServicePrincipalID),
		ReplyTo:            *replyTo,
		ServicePrincipalID: req.ServicePrincipalID,
		Keys:               make([]string, len(req.Secrets)),
	}
	for i, s := range req.Secrets {
		out.Keys[i] = s.Key
	}
	// SessionId is always set: a session-enabled queue requires one and
	// orders the updates of one service principal; a queue without sessions
	// ignores it.
	m := &azservicebus.Message{
		MessageID:     &out.MessageID,
		SessionID:     &out.SessionID,
		CorrelationID: ptrOrNil(out.CorrelationID),
		ReplyTo:       ptrOrNil(out.ReplyTo),
		ContentType:   ptrOrNil("application/json"),
		Body:          body,
	}
	sb, err := w.serviceBus(c)
	if err != nil {
		return err
	}
	sendCtx, cancel := context.WithTimeout(ctx, enqueueTimeout)
	defer cancel()
	sendErr := sb.Send(sendCtx, out.Queue, m)
	closeErr := sb.Close(sendCtx)
	if sendErr != nil {
		return fmt.Errorf("enqueue via %s: %w", connectionKind(c), sendErr)
	}
	if closeErr != nil {
		fmt.Fprintf(stderr, "handler: the message was sent; closing the connection: %v\n", closeErr)
	}
	enc := json.NewEncoder(stdout)
	return enc.Encode(out)
}

func ptrOrNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
