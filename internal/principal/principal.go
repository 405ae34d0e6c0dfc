// Package principal reads the caller that App Service Authentication ("Easy
// Auth") signed in, from the X-MS-CLIENT-PRINCIPAL request header the
// platform adds to every authenticated request.
//
// The header is base64 of a JSON document:
//
//	{"auth_typ":"aad",
//	 "claims":[{"typ":"roles","val":"PutSecrets.Invoke"},{"typ":"http://schemas.microsoft.com/identity/claims/objectidentifier","val":"…"}],
//	 "name_typ":"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
//	 "role_typ":"http://schemas.microsoft.com/ws/2008/06/identity/claims/role"}
//
// Entra ID app roles arrive as claims of type "roles", while role_typ names
// the WS-Federation role claim (azure-functions-host#3898): Roles and HasRole
// read the "roles" claims and nothing else (default-deny: a claim of another
// type never grants a role).
//
// The header is only as trustworthy as the path the request took: the
// platform strips and rewrites X-MS-* headers only when Easy Auth runs in
// front of the app. docs/authorization.md says how a deployment
// makes sure it always does.
package principal

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Header is the request header App Service Authentication sets.
const Header = "X-MS-CLIENT-PRINCIPAL"

// MaxHeaderBytes caps the encoded header read. A principal with many claims
// is a few KiB; the platform's own request header limit is far below this.
const MaxHeaderBytes = 64 << 10

// Claim types this package reads.
const (
	// RolesClaim is the type of the claims that carry Entra ID app roles.
	RolesClaim = "roles"
	// ObjectIDClaim is the type of the claim that carries the caller's
	// object (service principal or user) ID.
	ObjectIDClaim = "http://schemas.microsoft.com/identity/claims/objectidentifier"
	// shortObjectIDClaim is the same claim as some providers name it.
	shortObjectIDClaim = "oid"
)

// Errors of Parse and FromHeaders, for errors.Is.
var (
	// ErrMissing means that no principal reached the function: the request
	// did not pass through App Service Authentication.
	ErrMissing = errors.New("no " + Header + " header")
	// ErrMalformed means that the header is not a principal document.
	ErrMalformed = errors.New("malformed " + Header + " header")
)

// Principal is a signed-in caller.
type Principal struct {
	// AuthType is the identity provider, e.g. "aad".
	AuthType string `json:"auth_typ"`
	// Claims are the principal's claims, in the platform's order.
	Claims []Claim `json:"claims"`
	// NameType and RoleType are the claim types the platform names as the
	// name and role claims.
	NameType string `json:"name_typ"`
	RoleType string `json:"role_typ"`
}

// Claim is one claim of a principal.
type Claim struct {
	Type  string `json:"typ"`
	Value string `json:"val"`
}

// FromHeaders reads the principal of a request's headers. It fails with
// ErrMissing when there is none, and with ErrMalformed when the header is
// repeated (only the platform sets it, once) or cannot be read.
func FromHeaders(h http.Header) (*Principal, error) {
	vs := h.Values(Header)
	switch len(vs) {
	case 0:
		return nil, ErrMissing
	case 1:
		return Parse(vs[0])
	default:
		return nil, fmt.Errorf("%w: sent %d times", ErrMalformed, len(vs))
	}
}

// Parse decodes an X-MS-CLIENT-PRINCIPAL header value. It accepts standard
// base64 with or without padding, and refuses anything that is not one JSON
// object holding an auth_typ and a list of string claims.
func Parse(header string) (*Principal, error) {
	header = strings.TrimSpace(header)
	if header == "" {
		return nil, ErrMissing
	}
	if len(header) > MaxHeaderBytes {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrMalformed, MaxHeaderBytes)
	}
	raw, err := base64.StdEncoding.DecodeString(header)
	if err != nil {
		raw, err = base64.RawStdEncoding.DecodeString(header)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: not base64", ErrMalformed)
	}
	var p Principal
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("%w: not a principal document", ErrMalformed)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: data after the principal document", ErrMalformed)
	}
	if p.AuthType == "" {
		return nil, fmt.Errorf("%w: no auth_typ", ErrMalformed)
	}
	return &p, nil
}

// Roles returns the app roles the principal carries, in order, each once.
func (p *Principal) Roles() []string {
	var roles []string
	seen := map[string]bool{}
	for _, c := range p.Claims {
		if c.Type != RolesClaim || c.Value == "" || seen[c.Value] {
			continue
		}
		seen[c.Value] = true
		roles = append(roles, c.Value)
	}
	return roles
}

// HasRole reports whether the principal carries the app role. Role values
// compare exactly, as Entra ID issues them.
func (p *Principal) HasRole(role string) bool {
	if role == "" {
		return false
	}
	for _, c := range p.Claims {
		if c.Type == RolesClaim && c.Value == role {
			return true
		}
	}
	return false
}

// ObjectID returns the caller's object ID (for a managed identity, its
// service principal's object ID), or "".
func (p *Principal) ObjectID() string {
	for _, c := range p.Claims {
		if c.Type == ObjectIDClaim || c.Type == shortObjectIDClaim {
			return c.Value
		}
	}
	return ""
}
