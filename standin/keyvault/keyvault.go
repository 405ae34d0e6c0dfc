// Package keyvault is a stand-in for the Azure Key Vault secrets data plane,
// served over TLS for every vault of the public, US Government and China
// clouds (*.vault.azure.net, *.vault.usgovcloudapi.net, *.vault.azure.cn).
// The vault is chosen by the Host header, so one listener serves them all
// behind the CONNECT proxy.
//
// It speaks the protocol azsecrets expects: a request without a valid token
// gets 401 with the challenge
//
//	WWW-Authenticate: Bearer authorization="https://login.microsoftonline.com/<tenant>", resource="https://vault.azure.net"
//
// (the authority and resource of the vault's cloud), and azsecrets retries
// with a token for <resource>/.default. Tokens are checked with a
// TokenChecker (the identity stand-in), including their audience. Bodies and
// headers follow the real service: GetSecret's bundle, SecretNotFound,
// disabled secrets (403 Forbidden / SecretDisabled), RBAC denials
// (403 Forbidden / ForbiddenByRbac), throttling (429 Throttled) and 5xx.
//
// Tests can also make it misbehave in ways the real service does not, to
// see that a client refuses the answer or the bound it keeps: a challenge
// naming another resource (SetChallengeResource), a bundle without a value
// (NoValue), and a gate that holds requests until enough are in flight at
// once (SetGate, read with MaxInFlight).
package keyvault

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"regexp"
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

// ServiceVersion is the x-ms-keyvault-service-version the stand-in reports.
const ServiceVersion = "1.9.2173.1"

// Cloud is what a vault's DNS suffix implies.
type Cloud struct {
	// Suffix is the vault DNS suffix, e.g. "vault.azure.net".
	Suffix string
	// Authority is the Entra login host named in the challenge.
	Authority string
}

// Resource is the token audience the cloud's vaults accept and name in
// their challenge, e.g. "https://vault.azure.net".
func (c Cloud) Resource() string { return "https://" + c.Suffix }

// Clouds are the vault suffixes served, with their authorities.
var Clouds = []Cloud{
	{Suffix: "vault.azure.net", Authority: "login.microsoftonline.com"},
	{Suffix: "vault.usgovcloudapi.net", Authority: "login.microsoftonline.us"},
	{Suffix: "vault.azure.cn", Authority: "login.chinacloudapi.cn"},
}

// CloudOf returns the cloud of a vault host name; false when the host is not
// under one of the Clouds' suffixes.
func CloudOf(host string) (Cloud, bool) {
	host = wire.HostOnly(host)
	for _, c := range Clouds {
		if strings.HasSuffix(host, "."+c.Suffix) && !strings.Contains(strings.TrimSuffix(host, "."+c.Suffix), ".") {
			return c, true
		}
	}
	return Cloud{}, false
}

// Request records one request the stand-in received.
type Request struct {
	// Host is the vault host name (lower case, no port).
	Host string
	// Method and Path are as received.
	Method, Path string
	// Name is the secret name from the path ("" when the path is not a
	// secret).
	Name string
	// Version is the secret version from the path ("" for the latest).
	Version string
	// APIVersion is the api-version query parameter.
	APIVersion string
	// Authorized reports whether the request carried a token the stand-in
	// accepted for this vault.
	Authorized bool
	// Resource is the audience of the presented token ("" when none or
	// unknown).
	Resource string
	// Status is the status answered (0 when the connection was dropped or
	// the client left during a delay).
	Status int
	// RequestID is the x-ms-request-id header of the answer (set whether
	// or not an answer was sent).
	RequestID string
	// Done reports that the stand-in has finished with the request.
	Done bool
}

// Fault is a scripted misbehaviour; see Server.Script.
type Fault struct {
	// Status is the error status to answer (0: no error answer; with Delay
	// alone the request is then served normally after the delay).
	Status int
	// RetryAfter, when set, is sent as the Retry-After header.
	RetryAfter string
	// Location, when set, is sent as the Location header: with a 3xx Status
	// the answer is a redirect.
	Location string
	// Code, InnerCode and Message override the error document; empty fields
	// take the real service's values for Status.
	Code, InnerCode, Message string
	// Reset drops the connection without an answer.
	Reset bool
	// Delay waits before answering (or resetting).
	Delay time.Duration
	// Times is how many requests the fault applies to; 0 means forever.
	Times int
}

// SecretOption configures SetSecret.
type SecretOption func(*secretSpec)

type secretSpec struct {
	version     string
	older       []version
	disabled    bool
	noValue     bool
	contentType string
	tags        map[string]string
}

// Version sets the version ID of the new current version (default: 32
// random hex digits, as Key Vault generates).
func Version(v string) SecretOption { return func(s *secretSpec) { s.version = v } }

// OlderVersion adds an older version with the given ID and value, readable
// by version; call it several times for several versions, oldest first.
func OlderVersion(versionID, value string) SecretOption {
	return func(s *secretSpec) {
		s.older = append(s.older, version{id: versionID, value: &value, enabled: true})
	}
}

// Disabled marks the new current version disabled.
func Disabled() SecretOption { return func(s *secretSpec) { s.disabled = true } }

// NoValue makes the answers for the new current version leave out the
// bundle's value field (SetSecret's value is not kept), which the real
// service never does: a test of how a client treats an answer without a
// value.
func NoValue() SecretOption { return func(s *secretSpec) { s.noValue = true } }

// ContentType sets the secret's contentType attribute.
func ContentType(ct string) SecretOption { return func(s *secretSpec) { s.contentType = ct } }

// Tags sets the secret's tags.
func Tags(tags map[string]string) SecretOption { return func(s *secretSpec) { s.tags = tags } }

type version struct {
	id          string
	value       *string // nil: answers carry no value (NoValue)
	enabled     bool
	contentType string
	tags        map[string]string
	created     time.Time
}

type secret struct {
	name     string     // as first set (Key Vault names are case-insensitive)
	versions []*version // oldest first; the last is current
}

type vault struct {
	secrets      map[string]*secret // by lower-case name
	denied       bool
	rejectTokens bool
	resource     string             // the challenge's resource; "" is the cloud's
	gate         *gate              // see SetGate; nil: none
	scripts      map[string][]Fault // by lower-case name; "" is every secret
	reads        map[string]int
}

// gate holds a vault's authorized requests until n are held at once; see
// SetGate. Its fields are guarded by Server.mu.
type gate struct {
	n      int
	held   int           // requests waiting
	open   chan struct{} // closed by release
	opened bool
}

// release opens the gate for good; s.mu must be held.
func (g *gate) release() {
	if !g.opened {
		g.opened = true
		close(g.open)
	}
}

// Server is the Key Vault stand-in.
type Server struct {
	tokens TokenChecker
	tenant string
	tls    *tls.Config

	mu       sync.Mutex
	vaults   map[string]*vault
	requests []Request
	inFlight map[string]*inFlight // by host; see MaxInFlight
	changed  wire.Signal
	srv      *wire.Server
	done     chan struct{}
	closed   bool

	onNewVersion func(NewVersion) // see OnNewVersion
}

// New returns an unstarted Key Vault stand-in whose certificate ca issues
// and whose tokens are checked by tokens.
func New(ca *tlsca.CA, tokens TokenChecker) (*Server, error) {
	hosts := make([]string, len(Clouds))
	for i, c := range Clouds {
		hosts[i] = "*." + c.Suffix
	}
	cfg, err := ca.ServerConfig(hosts...)
	if err != nil {
		return nil, fmt.Errorf("keyvault: %w", err)
	}
	return &Server{
		tokens:   tokens,
		tenant:   wire.UUID(),
		tls:      cfg,
		vaults:   map[string]*vault{},
		inFlight: map[string]*inFlight{},
		done:     make(chan struct{}),
	}, nil
}

// Start listens on a free port of 127.0.0.1 and serves TLS in the
// background.
func (s *Server) Start() error {
	srv, err := wire.Serve(http.HandlerFunc(s.handle), s.tls)
	if err != nil {
		return fmt.Errorf("keyvault: listen: %w", err)
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

// Addr returns the listener address the proxy tunnels vault hosts to.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.srv.Addr()
}

// TenantID returns the tenant named in the challenge's authorization URI.
func (s *Server) TenantID() string { return s.tenant }

// vaultLocked returns the vault for host, creating it; s.mu must be held.
func (s *Server) vaultLocked(host string) *vault {
	host = wire.HostOnly(host)
	v, ok := s.vaults[host]
	if !ok {
		v = &vault{secrets: map[string]*secret{}, scripts: map[string][]Fault{}, reads: map[string]int{}}
		s.vaults[host] = v
	}
	return v
}

// AddVault creates an empty vault, so that its host exists (see HasVault).
func (s *Server) AddVault(vaultHost string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.vaultLocked(vaultHost)
}

// HasVault reports whether a vault was created for host by AddVault,
// SetSecret or any other configuration call. The proxy uses it to answer
// 502 for vaults that do not exist, as DNS would fail for them.
func (s *Server) HasVault(host string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.vaults[wire.HostOnly(host)]
	return ok
}

// SetSecret stores a new current version of a secret in the vault at
// vaultHost (e.g. "contoso-kv.vault.azure.net"), creating vault and secret as
// needed. Versions set earlier stay readable by version, as in Key Vault.
func (s *Server) SetSecret(vaultHost, name, value string, opts ...SecretOption) {
	spec := secretSpec{}
	for _, o := range opts {
		o(&spec)
	}
	if spec.version == "" {
		spec.version = wire.Hex(16)
	}
	now := time.Now().Truncate(time.Second)
	s.mu.Lock()
	v := s.vaultLocked(vaultHost)
	sec, ok := v.secrets[strings.ToLower(name)]
	if !ok {
		sec = &secret{name: name}
		v.secrets[strings.ToLower(name)] = sec
	}
	for _, o := range spec.older {
		o := o
		o.created = now.Add(-time.Hour)
		sec.versions = append(sec.versions, &o)
	}
	cur := &version{
		id: spec.version, value: &value, enabled: !spec.disabled,
		contentType: spec.contentType, tags: spec.tags, created: now,
	}
	if spec.noValue {
		cur.value = nil
	}
	sec.versions = append(sec.versions, cur)
	notify, nv := s.onNewVersion, NewVersion{Vault: wire.HostOnly(vaultHost), Name: sec.name, Version: spec.version}
	s.mu.Unlock()
	if notify != nil {
		notify(nv)
	}
}

// DeleteSecret removes a secret and all its versions.
func (s *Server) DeleteSecret(vaultHost, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.vaultLocked(vaultHost).secrets, strings.ToLower(name))
}

// SetDenied makes the vault deny the identity (403 Forbidden /
// ForbiddenByRbac on every authorized request), as a vault in RBAC mode does
// when the identity lacks "Key Vault Secrets User".
func (s *Server) SetDenied(vaultHost string, denied bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.vaultLocked(vaultHost).denied = denied
}

// SetRejectTokens makes the vault answer every request, with or without a
// token, 401 and a challenge: azsecrets then answers the challenge once and
// gives up with the second 401.
func (s *Server) SetRejectTokens(vaultHost string, reject bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.vaultLocked(vaultHost).rejectTokens = reject
}

// SetChallengeResource makes the vault's 401 challenge name resource (e.g.
// "https://vault.azure.cn" for a vault.azure.net host) instead of its
// cloud's, as a spoofed endpoint might; "" restores the cloud's. Tokens are
// still checked against the cloud's resource. azsecrets refuses such a
// challenge without asking for a token (its challenge resource verification).
func (s *Server) SetChallengeResource(vaultHost, resource string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.vaultLocked(vaultHost).resource = resource
}

// SetGate holds the vault's authorized requests, before any fault, until n
// of them are held at once; then it lets them all go and every later
// request through. A held request ends without an answer when its client
// leaves or the server closes. With MaxInFlight a test sees that a client
// reaches a concurrency bound of n and does not pass it; it bounds its own
// wait with its context, as the gate never opens by itself. n <= 0 removes
// the gate; removing or replacing a gate lets the requests it holds go.
func (s *Server) SetGate(vaultHost string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.vaultLocked(vaultHost)
	if v.gate != nil {
		v.gate.release()
	}
	v.gate = nil
	if n > 0 {
		v.gate = &gate{n: n, open: make(chan struct{})}
	}
}

// MaxInFlight returns the most requests to the vault host that the server
// was handling at once, authorized or not.
func (s *Server) MaxInFlight(vaultHost string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.inFlight[wire.HostOnly(vaultHost)]; ok {
		return f.max
	}
	return 0
}

// inFlight counts one host's requests being handled.
type inFlight struct{ now, max int }

// Script queues faults for requests to one secret (name "" means every
// secret of the vault). Faults apply, in order, to requests that passed
// authentication (the unauthenticated challenge round trip is never
// faulted); each applies Times times (0: forever), then normal behaviour
// resumes. A secret's own script takes precedence over the vault's.
func (s *Server) Script(vaultHost, name string, faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.vaultLocked(vaultHost)
	key := strings.ToLower(name)
	v.scripts[key] = append(v.scripts[key], faults...)
}

// Requests returns every request received, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Await blocks until cond holds for the requests received so far
// (re-checked whenever one arrives or finishes) or ctx ends. Tests use it
// to act while a request is in flight, without sleeping.
func (s *Server) Await(ctx context.Context, cond func([]Request) bool) error {
	return wire.Await(ctx, &s.changed, s.Requests, cond)
}

// Reads returns how many GETs of the secret succeeded (any version).
func (s *Server) Reads(vaultHost, name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.vaults[wire.HostOnly(vaultHost)]
	if !ok {
		return 0
	}
	return v.reads[strings.ToLower(name)]
}

// nextFault pops the fault for a request to name, if any; s.mu must be held.
func (v *vault) nextFault(name string) (Fault, bool) {
	for _, key := range []string{strings.ToLower(name), ""} {
		q := v.scripts[key]
		if len(q) == 0 {
			continue
		}
		f := q[0]
		if f.Times > 0 {
			q[0].Times--
			if q[0].Times == 0 {
				v.scripts[key] = q[1:]
			}
		}
		return f, true
	}
	return Fault{}, false
}

var secretPath = regexp.MustCompile(`^/secrets/([^/]+)(?:/([^/]*))?/?$`)
