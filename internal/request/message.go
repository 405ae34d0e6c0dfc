package request

// Message is a request message however it was received (the Functions
// host's Service Bus trigger or the worker's receiver): the request document
// and the Service Bus properties the service acts on. A property a body field
// shadowed in the Functions host's metadata arrives empty (see
// envelope.Message.Shadowed), so a forged ReplyTo cannot redirect an outcome.
type Message struct {
	// Body is the message body: the request document as the sender sent it.
	Body []byte

	MessageID        string
	CorrelationID    string
	ReplyTo          string
	ReplyToSessionID string
	SessionID        string
	DeliveryCount    int
}
