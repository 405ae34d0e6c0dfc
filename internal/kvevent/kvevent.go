// Package kvevent decodes the Key Vault events Event Grid delivers to the
// events queue (docs/contract.md §8, docs/platform.md §6): one event per message
// body, in the Event Grid schema or CloudEvents 1.0.
//
// Decoding is lenient where Key Vault is known to be sloppy: field names in
// any casing and with stray spaces ("objectName "), values with stray spaces
// (" version"), NBF and EXP as a number or a string of Unix seconds. data.Id
// is the one source of vault, secret name and version. Events carry no
// secret value, and neither does an Event.
package kvevent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/putsecrets/putsecrets/internal/request"
)

// The event types this app acts on.
const (
	SecretNewVersionCreated = "Microsoft.KeyVault.SecretNewVersionCreated"
	SecretNearExpiry        = "Microsoft.KeyVault.SecretNearExpiry"
	SecretExpired           = "Microsoft.KeyVault.SecretExpired"
)

// ours lists the types above by their lower-case form.
var ours = map[string]string{
	strings.ToLower(SecretNewVersionCreated): SecretNewVersionCreated,
	strings.ToLower(SecretNearExpiry):        SecretNearExpiry,
	strings.ToLower(SecretExpired):           SecretExpired,
}

// Schema is the event schema of the Event Grid subscription.
type Schema string

// The two schemas an Event Grid subscription can deliver.
const (
	EventGrid   Schema = "EventGridSchema"
	CloudEvents Schema = "CloudEventSchemaV1_0"
)

// MaxBody bounds an event body. Key Vault events are well under 2 KiB.
const MaxBody = 64 << 10

// Event is one decoded Key Vault event.
type Event struct {
	// ID is the event's id (Event Grid sets it as the MessageId too).
	ID string
	// Type is the event type; for the three types this app acts on, in the
	// canonical casing of the constants above, else as sent (trimmed).
	Type   string
	Schema Schema

	// The fields below are set only when Ours reports true.

	// Vault is the vault's host, lower-case ("contoso-kv.vault.azure.net").
	Vault string
	// Name is the secret's name as data.Id spells it.
	Name string
	// Version is the version data.Id names.
	Version string
	// NotBefore and Expires are data.NBF and data.EXP; zero when absent.
	NotBefore time.Time
	Expires   time.Time
}

// Ours reports whether the event is one of the three types this app acts on.
func (e *Event) Ours() bool {
	_, ok := ours[strings.ToLower(e.Type)]
	return ok
}

// Decode decodes one event from a message body. suffix is the configured
// cloud's Key Vault DNS suffix ("vault.azure.net"). An event of another type
// decodes without its data being read (Ours reports false). A body that is
// not one JSON object, an event without an id or type, and one of ours whose
// data.Id is not a versioned secret identifier under suffix, or whose NBF or
// EXP is not Unix seconds, are errors: the event cannot be acted on. Error
// messages name fields, never repeat values beyond the event ID.
func Decode(body []byte, suffix string) (*Event, error) {
	if len(body) > MaxBody {
		return nil, fmt.Errorf("the event body has %d bytes, over the %d a Key Vault event can have", len(body), MaxBody)
	}
	top, err := object(body)
	if err != nil {
		return nil, fmt.Errorf("the message body is not one event: %w", err)
	}
	e := &Event{Schema: EventGrid}
	typeField := "eventType"
	if _, ok := top["specversion"]; ok {
		e.Schema, typeField = CloudEvents, "type"
		if v, err := text(top, "specversion"); err != nil || v != "1.0" {
			return nil, errors.New("the event's specversion is not 1.0 (CloudEvents 1.0)")
		}
	}
	if e.ID, err = text(top, "id"); err != nil {
		return nil, err
	}
	if e.ID == "" {
		return nil, errors.New("the event has no id")
	}
	if e.Type, err = text(top, strings.ToLower(typeField)); err != nil {
		return nil, fmt.Errorf("event %s: %w", e.ID, err)
	}
	if e.Type == "" {
		return nil, fmt.Errorf("event %s has no %s", e.ID, typeField)
	}
	canonical, ok := ours[strings.ToLower(e.Type)]
	if !ok {
		return e, nil
	}
	e.Type = canonical
	if err := e.decodeData(top["data"], suffix); err != nil {
		return nil, fmt.Errorf("event %s (%s): %w", e.ID, e.Type, err)
	}
	return e, nil
}

// decodeData reads the event's data object.
func (e *Event) decodeData(raw json.RawMessage, suffix string) error {
	if len(raw) == 0 || string(raw) == "null" {
		return errors.New("the event has no data")
	}
	// A CloudEvents producer may send data as a JSON string holding the object.
	var s string
	if json.Unmarshal(raw, &s) == nil {
		raw = json.RawMessage(s)
	}
	data, err := object(raw)
	if err != nil {
		return fmt.Errorf("the event's data is not an object: %w", err)
	}
	id, err := text(data, "id")
	if err != nil {
		return fmt.Errorf("data.%w", err)
	}
	if id == "" {
		return errors.New("the event's data has no Id (the secret identifier)")
	}
	ref, err := request.ParseSecretURI(id, suffix)
	if err != nil {
		return fmt.Errorf("data.Id: %w", err)
	}
	if ref.Version == "" {
		return errors.New("data.Id names no secret version")
	}
	e.Vault, e.Name, e.Version = ref.Host, ref.Name, ref.Version
	if e.NotBefore, err = unixTime(data, "nbf"); err != nil {
		return err
	}
	if e.Expires, err = unixTime(data, "exp"); err != nil {
		return err
	}
	return nil
}

// object decodes a JSON object whose keys are matched ignoring case and
// surrounding spaces: the keys come back trimmed and lower-case. Two keys that
// are the same in that form make the object ambiguous, an error.
func object(b []byte) (map[string]json.RawMessage, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return nil, errors.New("not a JSON object")
	}
	var raw map[string]json.RawMessage
	d := json.NewDecoder(bytes.NewReader(b))
	if err := d.Decode(&raw); err != nil {
		return nil, errors.New("not valid JSON")
	}
	if _, err := d.Token(); err == nil {
		return nil, errors.New("more than one JSON value")
	}
	keys, err := keysOf(b)
	if err != nil {
		return nil, err
	}
	out := make(map[string]json.RawMessage, len(raw))
	for _, k := range keys {
		n := strings.ToLower(strings.TrimSpace(k))
		if _, dup := out[n]; dup {
			return nil, fmt.Errorf("the field %q appears more than once (field names are matched ignoring case and spaces)", strings.TrimSpace(k))
		}
		out[n] = raw[k]
	}
	return out, nil
}

// keysOf lists the top-level keys of a JSON object in order, duplicates
// included (encoding/json keeps only the last of them).
func keysOf(b []byte) ([]string, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	if _, err := d.Token(); err != nil {
		return nil, errors.New("not valid JSON")
	}
	var keys []string
	for d.More() {
		t, err := d.Token()
		if err != nil {
			return nil, errors.New("not valid JSON")
		}
		k, _ := t.(string)
		keys = append(keys, k)
		var skip json.RawMessage
		if err := d.Decode(&skip); err != nil {
			return nil, errors.New("not valid JSON")
		}
	}
	return keys, nil
}

// text returns the trimmed string field name of o: "" when absent or null,
// an error when it is not a string.
func text(o map[string]json.RawMessage, name string) (string, error) {
	raw, ok := o[name]
	if !ok || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("%s is not a string", name)
	}
	return strings.TrimSpace(s), nil
}

// maxUnix is 9999-12-31T23:59:59Z, the last second RFC 3339 can write.
const maxUnix = 253402300799

// unixTime reads field name of o as Unix seconds, a JSON number or a string
// holding one (spaces allowed around it); zero when absent, null or "".
// Fractions are kept to the nanosecond's float64 precision.
func unixTime(o map[string]json.RawMessage, name string) (time.Time, error) {
	raw, ok := o[name]
	if !ok || string(raw) == "null" {
		return time.Time{}, nil
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		s = string(raw)
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	bad := fmt.Errorf("data.%s is not a time in Unix seconds", strings.ToUpper(name))
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 || n > maxUnix {
			return time.Time{}, bad
		}
		return time.Unix(n, 0).UTC(), nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > maxUnix {
		return time.Time{}, bad
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
}
