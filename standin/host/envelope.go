package host

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/putsecrets/putsecrets/standin/internal/wire"
)

// invocation holds the per-invocation values the host generates, injected
// so that envelopes can be compared with golden files.
type invocation struct {
	now      time.Time
	randGUID string
}

// sys is the Metadata "sys" member.
func (ic invocation) sys(function string) object {
	return object{
		{"MethodName", function},
		{"UtcNow", ic.now.UTC().Format("2006-01-02T15:04:05.0000000Z")},
		{"RandGuid", ic.randGUID},
	}
}

// promoted returns the Metadata members the host derives from a JSON object
// body, in body order: every top-level property except nulls and arrays;
// objects as JSON, other values as JSON-encoded text of their .NET string
// form ("\"A-1001\"", "\"42.5\"", "\"False\""). A body that is not exactly
// one JSON object promotes nothing. (Not modelled: Newtonsoft turns
// ISO-8601-looking strings into dates, rendered in .NET's invariant date
// format.)
func promoted(body []byte) []member {
	if !json.Valid(body) { // Newtonsoft's JObject.Parse rejects trailing text too
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil
	}
	var out object
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		key, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil
		}
		var v any
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		if err := d.Decode(&v); err != nil {
			return nil
		}
		switch v := v.(type) {
		case nil, []any:
			continue
		case map[string]any:
			var compact bytes.Buffer
			if err := json.Compact(&compact, raw); err != nil {
				return nil
			}
			out.set(key, rawJSON(compact.Bytes()))
		case string:
			out.set(key, jsonString(v))
		case bool:
			out.set(key, jsonString(map[bool]string{true: "True", false: "False"}[v]))
		case json.Number:
			out.set(key, jsonString(dotnetNumber(string(v))))
		}
	}
	return out
}

// dotnetNumber renders a JSON number as Newtonsoft's string conversion does:
// integers as written, other numbers as .NET's shortest round-trip double
// form ("42.5", "1", "0.0001", "1E+15", "1E-05").
func dotnetNumber(lit string) string {
	if !strings.ContainsAny(lit, ".eE") {
		return lit
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil {
		return lit
	}
	if a := math.Abs(f); a != 0 && (a >= 1e15 || a < 1e-4) {
		return strconv.FormatFloat(f, 'E', -1, 64)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// HTTPRequest is what a caller sends to the function's public endpoint.
type HTTPRequest struct {
	// Method defaults to POST.
	Method string
	// URL is the public URL called, default
	// "http://localhost:7071/api/<function>". Its query string is kept.
	URL string
	// Query adds query parameters to URL's.
	Query map[string]string
	// Headers are the caller's request headers (one value each). Host and
	// Content-Length are derived from URL and Body.
	Headers map[string]string
	// Body is the request body.
	Body []byte
	// NoContentLength sends Body chunked: the host then gives the function
	// no Data.req.Body and promotes nothing from it.
	NoContentLength bool
	// Params are route parameters.
	Params map[string]string
	// AuthLevel is the value of the WebJobsAuthLevel identity's claim:
	// "Function" by default (a caller with a function key); Core Tools
	// gives "Admin".
	AuthLevel string
	// Principal, when set, is the caller App Service Authentication
	// (EasyAuth) signed in: it adds the X-MS-CLIENT-PRINCIPAL* headers and
	// an identity before the WebJobsAuthLevel one.
	Principal *ClientPrincipal
}

// ClientPrincipal is an App Service Authentication principal.
type ClientPrincipal struct {
	// IdentityProvider is auth_typ, default "aad".
	IdentityProvider string
	// ID and Name go to X-MS-CLIENT-PRINCIPAL-ID and -NAME.
	ID, Name string
	// Roles become claims of type "roles", as Entra ID app roles do. Note
	// that the principal's role_typ is the WS-Federation role URI, not
	// "roles" (azure-functions-host#3898): read the "roles" claims.
	Roles []string
	// Claims are further claims, in order.
	Claims []Claim
}

// Claim is one principal claim.
type Claim struct{ Type, Value string }

const (
	nameClaimType = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"
	roleClaimType = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"
	authLevelType = "http://schemas.microsoft.com/2017/07/functions/claims/authlevel"
)

// claims returns the principal's claims in header order.
func (p *ClientPrincipal) claims() []Claim {
	var cs []Claim
	if p.ID != "" {
		cs = append(cs, Claim{"http://schemas.microsoft.com/identity/claims/objectidentifier", p.ID})
	}
	if p.Name != "" {
		cs = append(cs, Claim{"name", p.Name})
	}
	for _, r := range p.Roles {
		cs = append(cs, Claim{"roles", r})
	}
	return append(cs, p.Claims...)
}

func (p *ClientPrincipal) idp() string {
	if p.IdentityProvider == "" {
		return "aad"
	}
	return p.IdentityProvider
}

// header returns the base64 X-MS-CLIENT-PRINCIPAL value.
func (p *ClientPrincipal) header() string {
	type claim struct {
		Typ string `json:"typ"`
		Val string `json:"val"`
	}
	doc := struct {
		AuthTyp string  `json:"auth_typ"`
		Claims  []claim `json:"claims"`
		NameTyp string  `json:"name_typ"`
		RoleTyp string  `json:"role_typ"`
	}{AuthTyp: p.idp(), Claims: []claim{}, NameTyp: nameClaimType, RoleTyp: roleClaimType}
	for _, c := range p.claims() {
		doc.Claims = append(doc.Claims, claim{c.Type, c.Value})
	}
	b, _ := wire.Marshal(doc)
	return base64.StdEncoding.EncodeToString(b)
}

// claimsIdentity renders a .NET ClaimsIdentity as the host serializes it.
func claimsIdentity(authType string, claims []Claim, name any) object {
	cs := []object{}
	for _, c := range claims {
		cs = append(cs, object{
			{"Issuer", "LOCAL AUTHORITY"},
			{"OriginalIssuer", "LOCAL AUTHORITY"},
			{"Properties", object{}},
			{"Type", c.Type},
			{"Value", c.Value},
			{"ValueType", "http://www.w3.org/2001/XMLSchema#string"},
		})
	}
	return object{
		{"AuthenticationType", authType},
		{"IsAuthenticated", true},
		{"Actor", nil},
		{"BootstrapContext", nil},
		{"Claims", cs},
		{"Label", nil},
		{"Name", name},
		{"NameClaimType", nameClaimType},
		{"RoleClaimType", roleClaimType},
	}
}

// header is one request header as received.
type header struct{ name, value string }

// normalize fills the defaults and returns the request URL, its query
// (URL's, then Query's, each key once) and the headers as received.
func (r *HTTPRequest) normalize(function string) (*url.URL, []header, error) {
	if r.Method == "" {
		r.Method = "POST"
	}
	if r.URL == "" {
		r.URL = "http://localhost:7071/api/" + function
	}
	if r.AuthLevel == "" {
		r.AuthLevel = "Function"
	}
	u, err := url.Parse(r.URL)
	if err != nil {
		return nil, nil, fmt.Errorf("request URL: %w", err)
	}
	if len(r.Query) > 0 {
		q := u.Query()
		for _, k := range sortedKeys(r.Query) {
			q.Set(k, r.Query[k])
		}
		u.RawQuery = q.Encode()
	}
	var hs []header
	hasHost := false
	for _, k := range sortedKeys(r.Headers) {
		if strings.EqualFold(k, "Host") {
			hasHost = true
		}
		if strings.EqualFold(k, "Content-Length") || strings.EqualFold(k, "Transfer-Encoding") {
			continue
		}
		hs = append(hs, header{k, r.Headers[k]})
	}
	if !hasHost {
		hs = append(hs, header{"Host", u.Host})
	}
	if p := r.Principal; p != nil {
		hs = append(hs,
			header{"X-MS-CLIENT-PRINCIPAL", p.header()},
			header{"X-MS-CLIENT-PRINCIPAL-IDP", p.idp()},
		)
		if p.ID != "" {
			hs = append(hs, header{"X-MS-CLIENT-PRINCIPAL-ID", p.ID})
		}
		if p.Name != "" {
			hs = append(hs, header{"X-MS-CLIENT-PRINCIPAL-NAME", p.Name})
		}
	}
	switch {
	case len(r.Body) > 0 && r.NoContentLength:
		hs = append(hs, header{"Transfer-Encoding", "chunked"})
	case len(r.Body) > 0:
		hs = append(hs, header{"Content-Length", strconv.Itoa(len(r.Body))})
	}
	return u, hs, nil
}

// httpEnvelope builds the host's request body for an HTTP-triggered
// function: {"Data":{"<trigger>":{Url,Method,Query,Headers,Params,Identities[,Body]}},
// "Metadata":{<promoted body>,<params>,<query>,"Query","Headers","sys"}}.
func httpEnvelope(f function, r HTTPRequest, ic invocation) ([]byte, error) {
	u, hs, err := r.normalize(f.name)
	if err != nil {
		return nil, err
	}
	query := object{}
	metaQuery := object{}
	for _, k := range sortedKeys(u.Query()) {
		v := strings.Join(u.Query()[k], ",")
		query.add(k, v)
		if !strings.EqualFold(k, "code") { // the function key never reaches Metadata
			metaQuery.add(k, v)
		}
	}
	headers := object{}
	metaHeaders := object{}
	for _, h := range hs {
		headers.add(h.name, []string{h.value})
		metaHeaders.add(h.name, h.value)
	}
	identities := []object{}
	if p := r.Principal; p != nil {
		var name any
		if p.Name != "" {
			name = p.Name
		}
		identities = append(identities, claimsIdentity(p.idp(), p.claims(), name))
	}
	identities = append(identities, claimsIdentity("WebJobsAuthLevel", []Claim{{authLevelType, r.AuthLevel}}, nil))

	req := object{
		{"Url", u.String()},
		{"Method", strings.ToUpper(r.Method)},
		{"Query", query},
		{"Headers", headers},
		{"Params", sortedStrings(r.Params)},
		{"Identities", identities},
	}
	hasBody := len(r.Body) > 0 && !r.NoContentLength
	if hasBody {
		req.add("Body", string(r.Body))
	}

	meta := object{}
	if hasBody {
		for _, m := range promoted(r.Body) {
			meta.set(m.key, m.value)
		}
	}
	for _, k := range sortedKeys(r.Params) {
		meta.set(k, jsonString(r.Params[k]))
	}
	for _, m := range metaQuery {
		meta.set(m.key, jsonString(m.value.(string)))
	}
	meta.set("Query", metaQuery)
	meta.set("Headers", metaHeaders)
	meta.set("sys", ic.sys(f.name))

	return wire.Marshal(object{
		{"Data", object{{f.trigger.Name, req}}},
		{"Metadata", meta},
	})
}

// Encoding selects how the host puts a Service Bus body into Data.
type Encoding int

const (
	// EncodingDefault is what the host does: EncodingDouble, or
	// EncodingBinary when the trigger binding says "dataType": "binary".
	EncodingDefault Encoding = iota
	// EncodingDouble is the host's source behaviour without dataType: the
	// body text passed through JsonConvert.SerializeObject, then encoded
	// again as the envelope's JSON string ("\"{\\\"a\\\":1}\"").
	EncodingDouble
	// EncodingSingle is the single encoding the public docs show.
	EncodingSingle
	// EncodingObject puts a JSON body in as the object itself.
	EncodingObject
	// EncodingBinary is "dataType": "binary": base64 of the raw bytes, no
	// promotion.
	EncodingBinary
)

// Message is a Service Bus message as the trigger receives it. Zero fields
// are absent (text properties) or take the defaults noted.
type Message struct {
	Body     []byte
	Encoding Encoding

	MessageID, CorrelationID, ReplyTo, ReplyToSessionID, SessionID string
	Subject, ContentType, To, PartitionKey, DeadLetterSource       string

	// DeliveryCount defaults to 1.
	DeliveryCount int
	// SequenceNumber defaults to a per-host counter from 1.
	SequenceNumber int64
	// LockToken defaults to a random UUID.
	LockToken string
	// EnqueuedTime defaults to now (millisecond precision).
	EnqueuedTime time.Time
	// TimeToLive defaults to 14 days.
	TimeToLive time.Duration
	// ApplicationProperties are rendered as JSON values, keys sorted; they
	// also appear as UserProperties.
	ApplicationProperties map[string]any
}

// sbClient is the Service Bus client the trigger's Metadata describes.
type sbClient struct{ namespace, identifier string }

// dotnetTime renders a UTC time as Newtonsoft renders a DateTime: seven
// fractional digits at most, trailing zeros dropped.
func dotnetTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.9999999") }

// serviceBusEnvelope builds the host's request body for a Service Bus
// trigger, in the shape of fixtures/functions-host/sb-request-json-body.json.
func serviceBusEnvelope(f function, m Message, client sbClient, ic invocation) ([]byte, error) {
	enc := m.Encoding
	if enc == EncodingDefault {
		enc = EncodingDouble
		if strings.EqualFold(f.trigger.DataType, "binary") {
			enc = EncodingBinary
		}
	}
	var data any
	switch enc {
	case EncodingDouble:
		data = jsonString(string(m.Body))
	case EncodingSingle:
		data = string(m.Body)
	case EncodingObject:
		if !json.Valid(m.Body) {
			return nil, fmt.Errorf("EncodingObject needs a JSON body")
		}
		data = rawJSON(m.Body)
	case EncodingBinary:
		data = base64.StdEncoding.EncodeToString(m.Body)
	default:
		return nil, fmt.Errorf("unknown encoding %d", enc)
	}

	props := object{}
	for _, k := range sortedKeys(m.ApplicationProperties) {
		props.add(k, m.ApplicationProperties[k])
	}
	meta := object{
		{"MessageReceiver", object{}},
		{"MessageSession", object{}},
		{"MessageActions", object{}},
		{"SessionActions", object{}},
		{"ReceiveActions", object{}},
		{"Client", object{
			{"FullyQualifiedNamespace", client.namespace},
			{"IsClosed", false},
			{"TransportType", 0},
			{"Identifier", client.identifier},
		}},
		{"DeliveryCount", strconv.Itoa(m.DeliveryCount)},
	}
	text := func(key, v string) {
		if v != "" {
			meta.add(key, jsonString(v))
		}
	}
	text("DeadLetterSource", m.DeadLetterSource)
	text("LockToken", m.LockToken)
	expires := m.EnqueuedTime.Add(m.TimeToLive)
	meta.add("ExpiresAtUtc", dotnetTime(expires))
	meta.add("ExpiresAt", expires.UTC().Format("2006-01-02T15:04:05.9999999-07:00"))
	meta.add("EnqueuedTimeUtc", dotnetTime(m.EnqueuedTime))
	meta.add("EnqueuedTime", m.EnqueuedTime.UTC().Format("2006-01-02T15:04:05.9999999-07:00"))
	text("MessageId", m.MessageID)
	text("ContentType", m.ContentType)
	text("ReplyTo", m.ReplyTo)
	text("To", m.To)
	meta.add("SequenceNumber", strconv.FormatInt(m.SequenceNumber, 10))
	text("Subject", m.Subject)
	text("Label", m.Subject)
	text("CorrelationId", m.CorrelationID)
	meta.add("ApplicationProperties", props)
	meta.add("UserProperties", props)
	text("SessionId", m.SessionID)
	text("ReplyToSessionId", m.ReplyToSessionID)
	text("PartitionKey", m.PartitionKey)
	meta.add("sys", ic.sys(f.name))
	if enc != EncodingBinary {
		for _, p := range promoted(m.Body) {
			meta.set(p.key, p.value)
		}
	}
	return wire.Marshal(object{
		{"Data", object{{f.trigger.Name, data}}},
		{"Metadata", meta},
	})
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
