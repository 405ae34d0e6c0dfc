package host

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"

	"github.com/putsecrets/putsecrets/standin/internal/wire"
)

// object is a JSON object that keeps its members in insertion order, as
// the host's dictionaries do when Newtonsoft.Json serializes them.
type object []member

type member struct {
	key   string
	value any
}

// add appends a member.
func (o *object) add(key string, value any) { *o = append(*o, member{key, value}) }

// set assigns key case-insensitively, as the host's binding data dictionary
// (StringComparer.OrdinalIgnoreCase) does: an existing member keeps its
// position and its original spelling and takes the new value; a new key is
// appended.
func (o *object) set(key string, value any) {
	for i := range *o {
		if strings.EqualFold((*o)[i].key, key) {
			(*o)[i].value = value
			return
		}
	}
	o.add(key, value)
}

// MarshalJSON writes the members in order, without HTML escaping.
func (o object) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			buf.WriteByte(',')
		}
		k, err := wire.Marshal(m.key)
		if err != nil {
			return nil, err
		}
		buf.Write(k)
		buf.WriteByte(':')
		v, err := wire.Marshal(m.value)
		if err != nil {
			return nil, err
		}
		buf.Write(v)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// sortedStrings turns a map into an object with sorted keys.
func sortedStrings(m map[string]string) object {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	o := object{}
	for _, k := range keys {
		o.add(k, m[k])
	}
	return o
}

// jsonString is a string encoded as JSON text: the host's way of putting
// text values into Metadata ("\"order-1\"").
func jsonString(s string) string {
	b, _ := wire.Marshal(s)
	return string(b)
}

// rawJSON wraps JSON text so that it is written as is.
func rawJSON(b []byte) json.RawMessage { return json.RawMessage(b) }
