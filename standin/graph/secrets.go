package graph

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
)

// msgUnreadable is Graph's answer to a body it cannot read as JSON,
// including a missing Content-Type.
const msgUnreadable = "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format."

// putSecrets serves PUT …/synchronization/secrets: it validates the body as
// Graph and the synchronization service do, and on success stores it and
// answers 204.
func (s *Server) putSecrets(w http.ResponseWriter, r *http.Request) {
	c := callOf(r)
	kvs, status, code, msg := parseSecrets(r.Header.Get("Content-Type"), c.body)
	if status != 0 {
		writeError(w, c, status, code, msg)
		return
	}
	for _, kv := range kvs {
		if kv.Key == "SyncNotificationSettings" && !isJSONObject(kv.Value) {
			writeSyncError(w, c, http.StatusBadRequest, "InvalidNotificationSettings",
				"The value of SyncNotificationSettings is not a valid notification settings JSON object.")
			return
		}
	}
	s.save(c.spID, kvs)
	w.WriteHeader(http.StatusNoContent)
}

// getSecrets serves the undocumented GET …/synchronization/secrets, which
// answers the saved keys with every value masked as "*".
func (s *Server) getSecrets(w http.ResponseWriter, r *http.Request) {
	c := callOf(r)
	masked := []KeyValue{}
	for _, kv := range s.Saved(c.spID) {
		masked = append(masked, KeyValue{Key: kv.Key, Value: "*"})
	}
	host := s.callRecord(c).Host
	body := struct {
		Context string     `json:"@odata.context"`
		Value   []KeyValue `json:"value"`
	}{
		Context: fmt.Sprintf("https://%s/%s/$metadata#servicePrincipals('%s')/synchronization/secrets", host, c.version, c.spID),
		Value:   masked,
	}
	w.Header().Set("Content-Type", "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(marshal(body))
}

// parseSecrets decodes {"value":[{"key","value"}…]} strictly: only those
// properties, keys among the 45 names in wire casing, every value a JSON
// string. It returns a non-zero status with Graph's code and message when
// the body is refused.
func parseSecrets(contentType string, body []byte) (kvs []KeyValue, status int, code, msg string) {
	bad := func(m string) ([]KeyValue, int, string, string) {
		return nil, http.StatusBadRequest, "BadRequest", m
	}
	var top map[string]json.RawMessage
	if !decodeJSON(contentType, body, &top) || top == nil {
		return bad(msgUnreadable)
	}
	for k := range top {
		if k != "value" && k != "@odata.type" {
			return bad(fmt.Sprintf("The property '%s' does not exist on type 'Collection(microsoft.graph.synchronizationSecretKeyStringValuePair)'. Make sure to only use property names that are defined by the type.", k))
		}
	}
	raw, ok := top["value"]
	if !ok {
		return bad("The request payload has no 'value' property; expected {\"value\":[{\"key\":…,\"value\":…}]}.")
	}
	return parsePairs(raw)
}

// parsePairs decodes a collection of synchronizationSecretKeyStringValuePair
// strictly (the PUT's value, validateCredentials' credentials): only key and
// value, keys among the 45 names in wire casing, every value a JSON string.
func parsePairs(raw json.RawMessage) (kvs []KeyValue, status int, code, msg string) {
	bad := func(m string) ([]KeyValue, int, string, string) {
		return nil, http.StatusBadRequest, "BadRequest", m
	}
	var entries []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &entries); err != nil {
		return bad("An unexpected 'StartObject' node was found when reading from the JSON reader. A 'StartArray' node was expected.")
	}
	kvs = []KeyValue{}
	for _, e := range entries {
		if e == nil {
			return bad("A null value was found where a value of type 'microsoft.graph.synchronizationSecretKeyStringValuePair' was expected.")
		}
		for k := range e {
			if k != "key" && k != "value" && k != "@odata.type" {
				return bad(fmt.Sprintf("The property '%s' does not exist on type 'microsoft.graph.synchronizationSecretKeyStringValuePair'. Make sure to only use property names that are defined by the type.", k))
			}
		}
		var key, value string
		rk, ok := e["key"]
		if !ok {
			return bad("The property 'key' is required on type 'microsoft.graph.synchronizationSecretKeyStringValuePair'.")
		}
		if err := json.Unmarshal(rk, &key); err != nil || bytes.Equal(bytes.TrimSpace(rk), []byte("null")) {
			return bad("Cannot convert a primitive value to the expected type 'microsoft.graph.synchronizationSecret'. See the inner exception for more details.")
		}
		if !secretNameSet[key] {
			return bad(fmt.Sprintf("Requested value '%s' was not found.", key))
		}
		rv, ok := e["value"]
		if !ok {
			return bad("The property 'value' is required on type 'microsoft.graph.synchronizationSecretKeyStringValuePair'.")
		}
		switch t := bytes.TrimSpace(rv); {
		case len(t) > 0 && (t[0] == '{' || t[0] == '['):
			return bad("An unexpected '" + map[byte]string{'{': "StartObject", '[': "StartArray"}[t[0]] + "' node was found when reading from the JSON reader. A 'PrimitiveValue' node was expected.")
		case len(t) > 0 && t[0] != '"':
			return bad("Cannot convert a primitive value to the expected type 'Edm.String'. See the inner exception for more details.")
		}
		if err := json.Unmarshal(rv, &value); err != nil {
			return bad(msgUnreadable)
		}
		kvs = append(kvs, KeyValue{Key: key, Value: value})
	}
	return kvs, 0, "", ""
}

// readJSON decodes the request body of an action (validateCredentials,
// restart, …) into v as Graph reads JSON payloads. When the Content-Type is
// not application/json or the body is not one JSON value it answers 400 with
// Graph's message and returns false.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	c := callOf(r)
	if !decodeJSON(r.Header.Get("Content-Type"), c.body, v) {
		writeError(w, c, http.StatusBadRequest, "BadRequest", msgUnreadable)
		return false
	}
	return true
}

// decodeJSON reports whether contentType is application/json (parameters
// allowed) and body decodes into v as exactly one JSON value.
func decodeJSON(contentType string, body []byte, v any) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/json" && strictUnmarshal(body, v) == nil
}

// strictUnmarshal decodes exactly one JSON value.
func strictUnmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data after JSON value")
	}
	return nil
}

// isJSONObject reports whether s is the text of a JSON object.
func isJSONObject(s string) bool {
	var m map[string]json.RawMessage
	return strictUnmarshal([]byte(s), &m) == nil && m != nil
}
