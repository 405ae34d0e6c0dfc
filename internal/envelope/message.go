package envelope

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
)

// Message is a Service Bus message as the trigger delivers it.
type Message struct {
	// Body is the message body with the host's encodings removed: for a JSON
	// body, the JSON text the sender sent.
	Body []byte

	MessageID        string
	CorrelationID    string
	ReplyTo          string
	ReplyToSessionID string
	SessionID        string
	Subject          string
	ContentType      string
	DeliveryCount    int
	SequenceNumber   int64
	EnqueuedTime     string

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

// DecodeMessage decodes a Service Bus trigger invocation whose trigger
// binding is named binding ("message"). An envelope that is not JSON or lacks
// the binding is an error; a body that is not a request document is not (the
// request parser reports that, and the message's properties are still needed
// to route the outcome).
func DecodeMessage(b []byte, binding string) (*Message, error) {
	inv, data, err := decodeInvocation(b, binding)
	if err != nil {
		return nil, err
	}
	m := &Message{Body: unwrapBody(data)}
	shadowed := bodyFields(m.Body)
	md := metadata{raw: inv.Metadata, shadowed: shadowed}

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

// unwrapBody removes the host's encodings from Data.message. The host passes
// a body without dataType through JsonConvert.SerializeObject, so JSON text
// arrives as a JSON string holding a JSON string ("double-encoded"); the docs
// show it once-encoded; some hosts hand over an object; dataType "binary"
// sends base64. All four are accepted.
func unwrapBody(data json.RawMessage) []byte {
	data = trimSpace(data)
	if len(data) == 0 || data[0] != '"' {
		return data // an object, or something the request parser will reject
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return data
	}
	t := strings.TrimSpace(s)
	switch {
	case strings.HasPrefix(t, "{"), strings.HasPrefix(t, "["):
		return []byte(s) // single-encoded JSON
	case strings.HasPrefix(t, `"`):
		var inner string
		if err := json.Unmarshal([]byte(t), &inner); err == nil {
			return []byte(inner) // double-encoded
		}
	case looksBase64(t):
		if dec, err := base64.StdEncoding.DecodeString(t); err == nil {
			if d := trimSpace(dec); len(d) > 0 && d[0] == '{' {
				return dec // dataType binary
			}
		}
	}
	return []byte(s) // plain text
}

func looksBase64(s string) bool {
	if len(s) < 4 || len(s)%4 != 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=') {
			return false
		}
	}
	return true
}

// bodyFields returns the lower-cased top-level member names of a JSON object
// body, which the host also copies into Metadata.
func bodyFields(body []byte) map[string]bool {
	body = trimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if _, err := dec.Token(); err != nil {
		return nil
	}
	fields := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fields
		}
		name, ok := tok.(string)
		if !ok {
			return fields
		}
		fields[strings.ToLower(name)] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return fields
		}
	}
	return fields
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
