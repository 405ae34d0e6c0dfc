// Package graph is a stand-in for Microsoft Graph's synchronization API in
// the four clouds (graph.microsoft.com, graph.microsoft.us,
// dod-graph.microsoft.us, microsoftgraph.chinacloudapi.cn), served over TLS
// behind the CONNECT proxy; the cloud is chosen by the Host header.
//
// Every request needs a bearer token that the identity stand-in issued for
// "https://<that host>"; others get 401 InvalidAuthenticationToken. The
// surface is listed in routes.go: PUT and GET
// /{v1.0|beta}/servicePrincipals/{id}/synchronization/secrets, and the job
// endpoints a rotation uses: validateCredentials (collection-level and
// job-bound), start, restart and GET of a job, whose state (AddJob) and
// validation outcome (SetValidation) are scriptable. Answers carry Graph's
// request-id and client-request-id headers and its error document
// {"error":{"code","message","innerError":{"date","request-id","client-request-id"}}}.
// Responses can be scripted per service principal to reproduce throttling,
// replication delay, missing permissions and outages.
package graph

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/putsecrets/putsecrets/standin/identity"
	"github.com/putsecrets/putsecrets/standin/internal/wire"
	"github.com/putsecrets/putsecrets/standin/tlsca"
)

// TokenChecker reports what a bearer token was issued for.
// *identity.Server implements it.
type TokenChecker interface {
	Grant(token string) (identity.Grant, bool)
}

// Hosts are the Graph host names served, one per national cloud.
var Hosts = []string{
	"graph.microsoft.com",
	"graph.microsoft.us",
	"dod-graph.microsoft.us",
	"microsoftgraph.chinacloudapi.cn",
}

// Call records one request.
type Call struct {
	// Host is the Graph host (lower case, no port).
	Host string
	// Method and Path are as received.
	Method, Path string
	// APIVersion is the first path segment ("v1.0", "beta").
	APIVersion string
	// ServicePrincipalID is the {id} of a servicePrincipals route, as sent.
	ServicePrincipalID string
	// ContentType is the request's Content-Type header.
	ContentType string
	// Resource is the audience of the bearer token ("" when none or
	// unknown).
	Resource string
	// Authorized reports whether the token was accepted.
	Authorized bool
	// ClientRequestID and RequestID are the correlation IDs answered.
	ClientRequestID, RequestID string
	// Body is the request body.
	Body []byte
	// Status is the status answered (0 when the connection was dropped or
	// the client left during a delay).
	Status int
	// Done reports that the stand-in has finished with the request.
	Done bool
}

// KeyValue is one synchronizationSecretKeyStringValuePair.
type KeyValue struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Response is a scripted answer; see Server.Script.
type Response struct {
	// Status is the error status to answer (0: none; with Delay alone the
	// request is then served normally after the delay).
	Status int
	// RetryAfter, when set, is sent as the Retry-After header (seconds).
	RetryAfter string
	// Location, when set, is sent as the Location header: with a 3xx Status
	// the answer is a redirect.
	Location string
	// Code and Message override the error document; empty fields take
	// Graph's usual values for Status.
	Code, Message string
	// InnerCode, when set, makes the error look like the synchronization
	// service's: code "UnknownError" (unless Code is set) and a message that
	// is the service's own error JSON, as text, carrying InnerCode.
	InnerCode string
	// Reset drops the connection without an answer.
	Reset bool
	// Delay waits before answering (or resetting).
	Delay time.Duration
}

// servicePrincipal is the state kept per service principal.
type servicePrincipal struct {
	saved      []KeyValue      // nil until a PUT succeeds
	jobs       map[string]*Job // by lower-case job ID
	validation Validation      // the outcome of validateCredentials
}

// Server is the Graph stand-in.
type Server struct {
	tokens TokenChecker
	tls    *tls.Config
	mux    *http.ServeMux

	mu      sync.Mutex
	sps     map[string]*servicePrincipal // by lower-case ID
	scripts map[string][]Response        // by lower-case ID
	calls   []Call
	changed wire.Signal
	srv     *wire.Server
	done    chan struct{}
	closed  bool
}

// New returns an unstarted Graph stand-in whose certificate ca issues and
// whose tokens are checked by tokens.
func New(ca *tlsca.CA, tokens TokenChecker) (*Server, error) {
	cfg, err := ca.ServerConfig(Hosts...)
	if err != nil {
		return nil, fmt.Errorf("graph: %w", err)
	}
	s := &Server{
		tokens:  tokens,
		tls:     cfg,
		mux:     http.NewServeMux(),
		sps:     map[string]*servicePrincipal{},
		scripts: map[string][]Response{},
		done:    make(chan struct{}),
	}
	s.addRoutes(s.mux)
	return s, nil
}

// Start listens on a free port of 127.0.0.1 and serves TLS in the
// background.
func (s *Server) Start() error {
	srv, err := wire.Serve(s, s.tls)
	if err != nil {
		return fmt.Errorf("graph: listen: %w", err)
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

// Addr returns the listener address the proxy tunnels Graph hosts to.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.srv.Addr()
}

// AddServicePrincipal makes a service principal (object ID) exist.
func (s *Server) AddServicePrincipal(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := strings.ToLower(id)
	if _, ok := s.sps[key]; !ok {
		s.sps[key] = &servicePrincipal{jobs: map[string]*Job{}}
	}
}

// RemoveServicePrincipal deletes a service principal and what was saved
// for it.
func (s *Server) RemoveServicePrincipal(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.sps, strings.ToLower(id))
}

// Script queues answers for the next requests to any route of one service
// principal, consumed one per request in order (after authentication),
// before normal behaviour resumes. For example a 429 with RetryAfter "1"
// followed by nothing gives one throttled answer and then the normal 204.
func (s *Server) Script(spID string, responses ...Response) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := strings.ToLower(spID)
	s.scripts[key] = append(s.scripts[key], responses...)
}

// Calls returns every request received, in order.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Call, len(s.calls))
	for i, c := range s.calls {
		c.Body = append([]byte(nil), c.Body...)
		out[i] = c
	}
	return out
}

// Await blocks until cond holds for the calls received so far (re-checked
// whenever one arrives or finishes) or ctx ends. Tests use it to act while
// a call is in flight, without sleeping.
func (s *Server) Await(ctx context.Context, cond func([]Call) bool) error {
	return wire.Await(ctx, &s.changed, s.Calls, cond)
}

// Saved returns the secrets of the last successful PUT for the service
// principal, in the order sent; nil when none succeeded.
func (s *Server) Saved(spID string) []KeyValue {
	s.mu.Lock()
	defer s.mu.Unlock()
	sp, ok := s.sps[strings.ToLower(spID)]
	if !ok || sp.saved == nil {
		return nil
	}
	return append([]KeyValue(nil), sp.saved...)
}

// nextScripted pops the next scripted response for a service principal.
func (s *Server) nextScripted(spID string) (Response, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := strings.ToLower(spID)
	q := s.scripts[key]
	if len(q) == 0 {
		return Response{}, false
	}
	s.scripts[key] = q[1:]
	return q[0], true
}

// lookup returns the service principal, if it exists.
func (s *Server) lookup(spID string) (*servicePrincipal, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sp, ok := s.sps[strings.ToLower(spID)]
	return sp, ok
}

// save stores a successful PUT.
func (s *Server) save(spID string, kvs []KeyValue) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sp, ok := s.sps[strings.ToLower(spID)]; ok {
		sp.saved = append([]KeyValue{}, kvs...)
	}
}

// marshal encodes v without HTML escaping.
func marshal(v any) json.RawMessage {
	b, err := wire.Marshal(v)
	if err != nil {
		panic(err) // only our own types are marshalled
	}
	return b
}
