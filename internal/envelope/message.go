package envelope

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/putsecrets/putsecrets/internal/request"
)

// Message is a Service Bus message as the trigger delivers it.
type Message struct {
	// Message is the body, with the host's encodings removed (for a JSON
	// body, the JSON text the sender sent), and the properties the service
	// acts on.
	request.Message

	Subject        string
	ContentType    string
	SequenceNumber int64
	EnqueuedTime   string

	// ApplicationProperties are the message's application properties as the
	// host rendered them.
	ApplicationProperties map[string]json.RawMessage

	// Shadowed lists the message properties that could not be trusted because
	// the JSON body has a top-level field of the same name (case-insensitive):
	// the host copies body fields into Metadata over the real properties, so a
	// body field "ReplyTo" would otherwise redirect the outcome. Those
	// properties are left empty.
	Shadowed []string
}

// The metadata keys this package reads, in the host's spelling.
const (
	keyMessageID        = "MessageId"
	keyCorrelationID    = "CorrelationId"
	keyReplyTo          = "ReplyTo"
	keyReplyToSessionID = "ReplyToSessionId"
	keySessionID        = "SessionId"
	keySubject          = "Subject"
	keyLabel            = "Label"
	keyContentType      = "ContentType"
	keyDeliveryCount    = "DeliveryCount"
	keySequenceNumber   = "SequenceNumber"
	keyEnqueuedTime     = "EnqueuedTimeUtc"
	keyAppProperties    = "ApplicationProperties"
	keyUserProperties   = "UserProperties"
)

// metadataKeys are the Metadata members DecodeMessage keeps; the rest of
// Metadata (the host's client objects, the body's promoted fields) is skipped.
var metadataKeys = []string{
	keyMessageID, keyCorrelationID, keyReplyTo, keyReplyToSessionID, keySessionID, keySubject, keyLabel,
	keyContentType, keyDeliveryCount, keySequenceNumber, keyEnqueuedTime, keyAppProperties, keyUserProperties,
}

// DecodeMessage reads a Service Bus trigger invocation whose trigger binding
// is named binding ("message") from r. An envelope that is not JSON or lacks
// the binding is an error; a body that is not a request document is not (the
// request parser reports that, and the message's properties are still needed
// to route the outcome). The body is kept up to one byte over
// request.MaxBodyBytes in its decoded form; Metadata may come before or after
// Data.
func DecodeMessage(r io.Reader, binding string) (*Message, error) {
	var body *bodySink
	raw, err := decode(r, binding, metadataKeys, func(s *scanner) error {
		var err error
		body, err = readMessageBody(s)
		return err
	})
	if err != nil {
		return nil, err
	}
	m := &Message{Message: request.Message{Body: body.buf}}
	md := metadata{raw: raw, shadowed: body.fields.names}

	m.MessageID = md.text(keyMessageID)
	m.CorrelationID = md.text(keyCorrelationID)
	m.ReplyTo = md.text(keyReplyTo)
	m.ReplyToSessionID = md.text(keyReplyToSessionID)
	m.SessionID = md.text(keySessionID)
	m.Subject = md.text(keySubject)
	if m.Subject == "" {
		m.Subject = md.text(keyLabel)
	}
	m.ContentType = md.text(keyContentType)
	m.DeliveryCount = int(md.integer(keyDeliveryCount))
	m.SequenceNumber = md.integer(keySequenceNumber)
	m.EnqueuedTime = md.text(keyEnqueuedTime)
	m.ApplicationProperties = md.object(keyAppProperties)
	if m.ApplicationProperties == nil {
		m.ApplicationProperties = md.object(keyUserProperties)
	}
	m.Shadowed = md.seen
	return m, nil
}

// bodySink is a candidate message body: its first maxBody bytes, its size,
// and the top-level field names of all of it.
type bodySink struct {
	capture
	fields fieldNames
}

func newBodySink() *bodySink { return &bodySink{capture: capture{limit: maxBody}} }

func (b *bodySink) Write(p []byte) (int, error) {
	_, _ = b.capture.Write(p)
	return b.fields.Write(p)
}

func (b *bodySink) WriteByte(c byte) error {
	_ = b.capture.WriteByte(c)
	b.fields.put(c)
	return nil
}

// readMessageBody removes the host's encodings from Data.message as it
// streams by. The host passes a body without dataType through
// JsonConvert.SerializeObject, so JSON text arrives as a JSON string holding
// a JSON string ("double-encoded"); the docs show it once-encoded; some hosts
// hand over an object; dataType "binary" sends base64. All four are
// accepted, and each is measured decoded. What is neither (plain text, a
// string that only looks encoded) is the string's text.
func readMessageBody(s *scanner) (*bodySink, error) {
	c, err := s.peek()
	if err != nil {
		return nil, err
	}
	if c != '"' {
		body := newBodySink() // an object, or something the request parser will reject
		return body, s.value(body)
	}
	_, _ = s.ReadByte()
	text := newBodySink() // the string's text: single-encoded JSON, or the fallback
	br := bufio.NewReaderSize(io.TeeReader(s.newStringReader(), text), 512)
	first, err := skipSpace(br)
	var body *bodySink
	switch {
	case err != nil:
	case first == '{' || first == '[':
		// single-encoded JSON
	case first == '"':
		_, _ = br.ReadByte()
		inner := newBodySink()
		if err := s.copy(inner, &stringReader{src: br}); err == nil && onlySpace(br) {
			body = inner // double-encoded
		}
	case isBase64Byte(first):
		decoded := newBodySink()
		if err := s.copy(decoded, base64.NewDecoder(base64.StdEncoding, br)); err == nil {
			if d := trimSpace(decoded.buf); len(d) > 0 && d[0] == '{' {
				body = decoded // dataType binary
			}
		}
	}
	// Whatever was chosen, the string is read to its end; an error there is
	// the envelope's.
	if err := s.copy(io.Discard, br); err != nil {
		return nil, err
	}
	if body == nil {
		body = text
	}
	return body, nil
}

// skipSpace consumes white space and returns the next byte, unread; io.EOF
// when there is none.
func skipSpace(br *bufio.Reader) (byte, error) {
	for {
		c, err := br.ReadByte()
		if err != nil {
			return 0, err
		}
		if !isSpace(c) {
			return c, br.UnreadByte()
		}
	}
}

// onlySpace reports whether nothing but white space is left in br.
func onlySpace(br *bufio.Reader) bool {
	for {
		c, err := br.ReadByte()
		if err != nil {
			return errors.Is(err, io.EOF)
		}
		if !isSpace(c) {
			return false
		}
	}
}

func isBase64Byte(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/'
}

// metadata reads Metadata values defensively: scalars are strings (numbers
// included), text values are JSON-encoded once more, and a key shadowed by a
// body field is not trusted.
type metadata struct {
	raw      map[string]json.RawMessage
	shadowed map[string]bool
	seen     []string
}

func (md *metadata) lookup(key string) (json.RawMessage, bool) {
	if md.shadowed[strings.ToLower(key)] {
		md.seen = append(md.seen, key)
		return nil, false
	}
	if v, ok := md.raw[key]; ok {
		return v, true
	}
	for k, v := range md.raw { // the host's keys are case-insensitive
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return nil, false
}

// text returns a text property: "\"order-1\"" (the host's form) and
// "order-1" both give order-1.
func (md *metadata) text(key string) string {
	v, ok := md.lookup(key)
	if !ok {
		return ""
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return ""
	}
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		var inner string
		if err := json.Unmarshal([]byte(s), &inner); err == nil {
			return inner
		}
	}
	return s
}

// integer returns a number property sent as "17" or 17.
func (md *metadata) integer(key string) int64 {
	v, ok := md.lookup(key)
	if !ok {
		return 0
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		s = string(v)
	}
	n, err := strconv.ParseInt(strings.Trim(s, `"`), 10, 64)
	if err != nil {
		return 0
	}
	return n
}

func (md *metadata) object(key string) map[string]json.RawMessage {
	v, ok := md.lookup(key)
	if !ok {
		return nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(v, &m); err != nil {
		return nil
	}
	return m
}
