// Package identity is a stand-in for the App Service / Azure Functions
// managed identity endpoint (IDENTITY_ENDPOINT, api-version 2019-08-01).
//
// It serves plain HTTP on 127.0.0.1, which azidentity's
// ManagedIdentityCredential (MSAL's "AppService" source) reaches directly:
// Go never proxies loopback. Requests look like
//
//	GET /msi/token?api-version=2019-08-01&resource=https://vault.azure.net[&client_id=…]
//	X-IDENTITY-HEADER: <IDENTITY_HEADER>
//
// and a success answers, as App Service does,
//
//	{"access_token":"…","expires_on":"1715680267","resource":"https://vault.azure.net",
//	 "token_type":"Bearer","client_id":"…"}
//
// with expires_on in Unix seconds as a string (MSAL Go accepts a string or a
// number). Tokens for Key Vault, Graph and every other resource are opaque
// random hex, so no code under test can be tempted to decode them; the other
// stand-ins ask Grant what a token was issued for. Tokens for the storage
// audience (StorageResource) are JWT-shaped instead, with a random dummy
// signature, because the storage emulator (Azurite with --oauth basic) runs
// in its own process and can only decode the token: it checks that iss starts
// with https://sts.windows.net/, that aud is a storage audience and that
// nbf, iat and exp hold the present. Grant knows those tokens too.
package identity

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/putsecrets/putsecrets/standin/internal/wire"
)

// APIVersion is the only api-version the endpoint accepts, the one MSAL Go
// sends for App Service.
const APIVersion = "2019-08-01"

// Path is the endpoint's path, as on App Service.
const Path = "/msi/token"

// Grant is what a token was issued for.
type Grant struct {
	// Resource is the audience the token was requested for, e.g.
	// "https://vault.azure.net" (MSAL strips "/.default" from the scope).
	Resource string
	// ClientID is the client (application) ID of the identity.
	ClientID string
	// ObjectID is the identity's service principal object ID.
	ObjectID string
	// ExpiresOn is when the token expires.
	ExpiresOn time.Time
}

// TokenRequest records one request to the endpoint.
type TokenRequest struct {
	// Resource, ClientID and APIVersion are the query parameters as sent.
	Resource, ClientID, APIVersion string
	// HeaderOK reports whether X-IDENTITY-HEADER carried the right secret.
	HeaderOK bool
	// Status is the HTTP status answered (0 when the connection was dropped
	// or the client gave up during a delay).
	Status int
	// Done reports that the endpoint has finished with the request.
	Done bool
}

// FaultKind selects how the endpoint misbehaves.
type FaultKind int

// The fault kinds.
const (
	// FaultNone restores normal behaviour.
	FaultNone FaultKind = iota
	// FaultDown closes the listener: connections are refused until the
	// fault is cleared, when the server listens again on the same port.
	FaultDown
	// FaultDelay waits Fault.Delay before answering normally.
	FaultDelay
	// FaultStatus answers Fault.Status (default 500) with Fault.Body.
	FaultStatus
	// FaultGarbage answers 200 with a body that is not JSON.
	FaultGarbage
)

// Fault describes how the endpoint misbehaves; see FaultKind.
type Fault struct {
	Kind FaultKind
	// Delay is the wait for FaultDelay.
	Delay time.Duration
	// Status and Body are the answer for FaultStatus. Body defaults to an
	// App Service style JSON error.
	Status int
	Body   string
	// Location, when set, is sent as the Location header of FaultStatus:
	// with a 3xx Status the answer is a redirect.
	Location string
}

// Server is the managed identity endpoint stand-in.
type Server struct {
	header   string
	objectID string
	clientID string
	tenantID string

	mu        sync.Mutex
	srv       *wire.Server
	done      chan struct{}
	fault     Fault
	requireID string
	lifetime  time.Duration
	grants    map[string]Grant
	requests  []TokenRequest
	changed   wire.Signal
	closed    bool
}

// New returns an unstarted endpoint with a random IDENTITY_HEADER secret and
// a system-assigned identity with random client and object IDs.
func New() *Server {
	return &Server{
		header:   wire.Hex(16),
		clientID: wire.UUID(),
		objectID: wire.UUID(),
		tenantID: wire.UUID(),
		lifetime: 24 * time.Hour,
		grants:   map[string]Grant{},
		done:     make(chan struct{}),
	}
}

// Start listens on a free port of 127.0.0.1 and serves in the background.
func (s *Server) Start() error {
	srv, err := wire.Serve(http.HandlerFunc(s.handle), nil)
	if err != nil {
		return fmt.Errorf("identity: listen: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.srv = srv
	return nil
}

// Close stops the server and drops open connections.
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	close(s.done)
	if s.srv != nil {
		s.srv.Close()
	}
}

// Endpoint returns the IDENTITY_ENDPOINT value, e.g.
// "http://127.0.0.1:41234/msi/token".
func (s *Server) Endpoint() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return "http://" + s.srv.Addr() + Path
}

// Header returns the IDENTITY_HEADER value.
func (s *Server) Header() string { return s.header }

// ClientID returns the client ID of the system-assigned identity, answered
// when a request names no client_id.
func (s *Server) ClientID() string { return s.clientID }

// TenantID returns the tenant named in the issuer (iss) and tid claims of
// storage tokens.
func (s *Server) TenantID() string { return s.tenantID }

// ObjectID returns the object (principal) ID of the identity.
func (s *Server) ObjectID() string { return s.objectID }

// SetTokenLifetime sets how long new tokens live (default 24 hours, like a
// managed identity token).
func (s *Server) SetTokenLifetime(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lifetime = d
}

// RequireClientID makes the app a user-assigned-only identity with the given
// client ID: requests naming another client_id, or none, get App Service's
// 400 "Unable to load the proper Managed Identity.". The empty string
// restores the default, where any client_id is granted and no client_id means
// the system-assigned identity.
func (s *Server) RequireClientID(clientID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requireID = clientID
}

// SetFault changes how the endpoint misbehaves from the next request on.
// Clearing FaultDown listens again on the same port, which fails only if
// another process took the port meanwhile.
func (s *Server) SetFault(f Fault) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("identity: server closed")
	}
	wasDown := s.fault.Kind == FaultDown
	s.fault = f
	switch {
	case f.Kind == FaultDown && !wasDown:
		s.srv.Stop()
	case f.Kind != FaultDown && wasDown:
		if err := s.srv.Restart(); err != nil {
			return fmt.Errorf("identity: %w", err)
		}
	}
	return nil
}

// Grant reports what token was issued for; false for a token this server
// never issued.
func (s *Server) Grant(token string) (Grant, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.grants[token]
	return g, ok
}

// Revoke forgets every token issued so far, so that the other stand-ins
// reject them as they would an expired token.
func (s *Server) Revoke() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.grants = map[string]Grant{}
}

// Requests returns the requests received so far, in order.
func (s *Server) Requests() []TokenRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]TokenRequest(nil), s.requests...)
}

// Await blocks until cond holds for the requests received so far
// (re-checked whenever one arrives or finishes) or ctx ends.
func (s *Server) Await(ctx context.Context, cond func([]TokenRequest) bool) error {
	return wire.Await(ctx, &s.changed, s.Requests, cond)
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	rec := TokenRequest{
		Resource:   q.Get("resource"),
		ClientID:   q.Get("client_id"),
		APIVersion: q.Get("api-version"),
		HeaderOK:   r.Header.Get("X-IDENTITY-HEADER") == s.header,
	}
	s.mu.Lock()
	fault, lifetime, requireID := s.fault, s.lifetime, s.requireID
	idx := len(s.requests)
	s.requests = append(s.requests, rec)
	s.mu.Unlock()
	s.changed.Broadcast()

	// The status is recorded before it is written, so that it is visible
	// once the client has its answer; Done follows when the handler ends.
	sw := &wire.StatusWriter{ResponseWriter: w, OnStatus: func(code int) {
		s.mu.Lock()
		s.requests[idx].Status = code
		s.mu.Unlock()
	}}
	s.answer(sw, r, rec, fault, lifetime, requireID)

	s.mu.Lock()
	s.requests[idx].Done = true
	s.mu.Unlock()
	s.changed.Broadcast()
}

// answer writes the response and returns its status (0 if none was sent).
func (s *Server) answer(w http.ResponseWriter, r *http.Request, rec TokenRequest, fault Fault, lifetime time.Duration, requireID string) int {
	w.Header().Set("Server", "Kestrel")
	correlation := wire.UUID()
	w.Header().Set("X-CORRELATION-ID", correlation)

	switch fault.Kind {
	case FaultDelay:
		if !wire.Wait(r.Context(), s.done, fault.Delay) {
			return 0
		}
	case FaultStatus:
		status := fault.Status
		if status == 0 {
			status = http.StatusInternalServerError
		}
		body := fault.Body
		if body == "" {
			body = appServiceError(status, "An unexpected error occured while fetching the AAD Token.", correlation)
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		if fault.Location != "" {
			w.Header().Set("Location", fault.Location)
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
		return status
	case FaultGarbage:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("<html><body>502 Bad Gateway</body></html>"))
		return http.StatusOK
	}

	fail := func(status int, msg string) int {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(appServiceError(status, msg, correlation)))
		return status
	}
	switch {
	case r.Method != http.MethodGet:
		return fail(http.StatusMethodNotAllowed, "Only GET is supported.")
	case r.URL.Path != Path:
		return fail(http.StatusNotFound, "Not found.")
	case !rec.HeaderOK:
		return fail(http.StatusUnauthorized, "The X-IDENTITY-HEADER header is missing or does not match IDENTITY_HEADER.")
	case rec.APIVersion != APIVersion:
		return fail(http.StatusBadRequest, fmt.Sprintf("The api-version %q is not supported; use %s.", rec.APIVersion, APIVersion))
	case rec.Resource == "":
		return fail(http.StatusBadRequest, "The resource parameter is required.")
	}
	clientID := s.clientID
	switch {
	case requireID != "" && !strings.EqualFold(rec.ClientID, requireID):
		return fail(http.StatusBadRequest, "Unable to load the proper Managed Identity.")
	case rec.ClientID != "":
		clientID = rec.ClientID
	}

	now := time.Now()
	expires := now.Add(lifetime).Truncate(time.Second)
	token := wire.Hex(32)
	if isStorageResource(rec.Resource) {
		token = s.storageToken(rec.Resource, clientID, now, expires)
	}
	s.mu.Lock()
	s.grants[token] = Grant{Resource: rec.Resource, ClientID: clientID, ObjectID: s.objectID, ExpiresOn: expires}
	s.mu.Unlock()
	wire.WriteJSON(w, http.StatusOK, "application/json; charset=utf-8", tokenResponse{
		AccessToken: token,
		ExpiresOn:   strconv.FormatInt(expires.Unix(), 10),
		Resource:    rec.Resource,
		TokenType:   "Bearer",
		ClientID:    clientID,
	})
	return http.StatusOK
}

// StorageResource is the audience of Azure Storage tokens, the resource
// azblob's scope "https://storage.azure.com/.default" asks for.
const StorageResource = "https://storage.azure.com"

// isStorageResource reports whether resource is the storage audience, with or
// without a trailing slash, in any casing: the resources whose tokens are
// JWT-shaped.
func isStorageResource(resource string) bool {
	return strings.EqualFold(strings.TrimSuffix(resource, "/"), StorageResource)
}

// storageToken builds a JWT-shaped token for the storage audience: a header
// naming no real algorithm, the claims Azurite's basic OAuth check reads
// (iss, aud, iat, nbf, exp) plus the identity's, and a random signature
// segment that also makes every token unique.
func (s *Server) storageToken(resource, clientID string, now, expires time.Time) string {
	header, _ := json.Marshal(map[string]string{"typ": "JWT", "alg": "RS256", "kid": "putsecrets-standin"})
	issued := now.Add(-5 * time.Minute).Unix() // Entra backdates nbf and iat by five minutes
	claims, _ := json.Marshal(map[string]any{
		"aud":   resource,
		"iss":   "https://sts.windows.net/" + s.tenantID + "/",
		"iat":   issued,
		"nbf":   issued,
		"exp":   expires.Unix(),
		"appid": clientID,
		"oid":   s.objectID,
		"sub":   s.objectID,
		"tid":   s.tenantID,
		"idtyp": "app",
		"uti":   wire.Hex(11),
		"ver":   "1.0",
	})
	enc := base64.RawURLEncoding
	return enc.EncodeToString(header) + "." + enc.EncodeToString(claims) + "." + enc.EncodeToString([]byte(wire.Hex(32)))
}

// tokenResponse is App Service's 2019-08-01 answer, fields in its order.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	ExpiresOn   string `json:"expires_on"`
	Resource    string `json:"resource"`
	TokenType   string `json:"token_type"`
	ClientID    string `json:"client_id"`
}

// appServiceError renders App Service's error document, e.g.
// {"statusCode":400,"message":"Unable to load the proper Managed Identity.","correlationId":"…"}.
func appServiceError(status int, msg, correlation string) string {
	b, _ := wire.Marshal(struct {
		StatusCode    int    `json:"statusCode"`
		Message       string `json:"message"`
		CorrelationID string `json:"correlationId"`
	}{status, msg, correlation})
	return string(b)
}
