package graph

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/putsecrets/putsecrets/standin/internal/wire"
)

// addRoutes lists the whole surface. Patterns are lower case: Graph matches
// path segments case-insensitively, so requests are routed on their
// lower-cased path (handlers read IDs as sent from the call's record).
// Synchronization routes go through s.sp, which checks the version and
// service principal and plays scripted responses.
//
// To add an endpoint, write its handler in its own file (readJSON decodes an
// action's body, writeError and writeSyncError answer Graph's and the
// synchronization service's errors, callOf(r).spID and .version are set) and
// list it here.
func (s *Server) addRoutes(mux *http.ServeMux) {
	const sync = "/{version}/serviceprincipals/{id}/synchronization"
	mux.Handle("PUT "+sync+"/secrets", s.sp(s.putSecrets))
	mux.Handle("GET "+sync+"/secrets", s.sp(s.getSecrets))
	mux.Handle("POST "+sync+"/jobs/validatecredentials", s.sp(s.validateCredentials))
	mux.Handle("POST "+sync+"/jobs/{job}/validatecredentials", s.sp(s.validateCredentials))
	mux.Handle("POST "+sync+"/jobs/{job}/start", s.sp(s.startJob))
	mux.Handle("POST "+sync+"/jobs/{job}/restart", s.sp(s.restartJob))
	mux.Handle("GET "+sync+"/jobs/{job}", s.sp(s.getJob))
	mux.HandleFunc("/", s.notFound)
}

// call is the request in flight, reachable from handlers with callOf.
type call struct {
	idx       int // index in s.calls
	requestID string
	clientID  string
	body      []byte
	spID      string
	version   string
}

type callKey struct{}

func callOf(r *http.Request) *call { return r.Context().Value(callKey{}).(*call) }

// maxBody caps what the stand-in reads of a request body.
const maxBody = 4 << 20

// ServeHTTP records the call, sets the correlation headers, checks the host
// and the token, and routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, maxBody))
	r.Body = io.NopCloser(bytes.NewReader(body))
	c := &call{requestID: wire.UUID(), clientID: r.Header.Get("client-request-id"), body: body}
	if c.clientID == "" {
		c.clientID = c.requestID
	}
	host := wire.HostOnly(r.Host)
	rec := Call{
		Host: host, Method: r.Method, Path: r.URL.Path,
		ContentType: r.Header.Get("Content-Type"),
		RequestID:   c.requestID, ClientRequestID: c.clientID, Body: body,
	}
	if seg := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/"); len(seg) > 0 {
		rec.APIVersion = seg[0]
	}
	if m := spPath.FindStringSubmatch(r.URL.Path); m != nil {
		rec.ServicePrincipalID = m[1]
	}
	s.mu.Lock()
	c.idx = len(s.calls)
	s.calls = append(s.calls, rec)
	s.mu.Unlock()
	s.changed.Broadcast()

	// The status is recorded before it is written, so that it is visible
	// once the client has its answer; Done follows when the handler ends.
	sw := &wire.StatusWriter{ResponseWriter: w, OnStatus: func(code int) {
		s.mu.Lock()
		s.calls[c.idx].Status = code
		s.mu.Unlock()
	}}
	h := w.Header()
	h.Set("request-id", c.requestID)
	h.Set("client-request-id", c.clientID)
	h.Set("x-ms-ags-diagnostic", `{"ServerInfo":{"DataCenter":"West Europe","Slice":"E","Ring":"5","ScaleUnit":"002","RoleInstance":"AM4PEPF0001234"}}`)
	h.Set("Strict-Transport-Security", "max-age=31536000")
	h.Set("Cache-Control", "no-cache")
	defer func() {
		s.mu.Lock()
		s.calls[c.idx].Done = true
		s.mu.Unlock()
		s.changed.Broadcast()
	}()

	if !servedHost(host) {
		writeError(sw, c, http.StatusMisdirectedRequest, "BadRequest", "No Graph endpoint is served at "+host+".")
		return
	}
	token, hasToken := bearer(r)
	grant, known := s.tokens.Grant(token)
	if known {
		s.mu.Lock()
		s.calls[c.idx].Resource = grant.Resource
		s.mu.Unlock()
	}
	switch {
	case !hasToken:
		unauthenticated(sw, c, "Access token is empty.")
		return
	case !known:
		unauthenticated(sw, c, "CompactToken parsing failed with error code: 80049217")
		return
	case !grant.ExpiresOn.IsZero() && !grant.ExpiresOn.After(time.Now()):
		unauthenticated(sw, c, "Lifetime validation failed, the token is expired.")
		return
	case strings.TrimSuffix(grant.Resource, "/") != "https://"+host:
		unauthenticated(sw, c, "Access token validation failure. Invalid audience.")
		return
	}
	s.mu.Lock()
	s.calls[c.idx].Authorized = true
	s.mu.Unlock()

	routed := r.Clone(context.WithValue(r.Context(), callKey{}, c))
	routed.URL.Path = strings.ToLower(r.URL.Path)
	routed.URL.RawPath = ""
	s.mux.ServeHTTP(sw, routed)
}

var spPath = regexp.MustCompile(`(?i)^/[^/]+/servicePrincipals/([^/]+)/`)

// versions are the Graph API versions served.
var versions = map[string]string{"v1.0": "v1.0", "beta": "beta"}

var guid = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// sp wraps a handler of a /{version}/servicePrincipals/{id}/synchronization
// route: it checks the version and the ID, plays the service principal's
// scripted responses, answers 404 for an unknown service principal, and then
// calls next with call.spID and call.version set.
func (s *Server) sp(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := callOf(r)
		version, ok := versions[r.PathValue("version")]
		if !ok {
			writeError(w, c, http.StatusBadRequest, "BadRequest", "Invalid version: "+r.PathValue("version"))
			return
		}
		c.version = version
		c.spID = s.callRecord(c).ServicePrincipalID // as sent, not lower-cased
		if !guid.MatchString(c.spID) {
			writeError(w, c, http.StatusBadRequest, "Request_BadRequest", "Invalid object identifier '"+c.spID+"'.")
			return
		}
		if resp, ok := s.nextScripted(c.spID); ok {
			if !wire.Wait(r.Context(), s.done, resp.Delay) {
				return
			}
			if resp.Reset {
				wire.Reset(w)
				return
			}
			if resp.Status != 0 {
				writeScripted(w, c, resp)
				return
			}
		}
		if _, ok := s.lookup(c.spID); !ok {
			writeError(w, c, http.StatusNotFound, "Request_ResourceNotFound",
				"Resource '"+c.spID+"' does not exist or one of its queried reference-property objects are not present.")
			return
		}
		next(w, r)
	})
}

// callRecord returns a copy of the call's record.
func (s *Server) callRecord(c *call) Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[c.idx]
}

// notFound answers paths outside the surface as Graph does for an unknown
// segment.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	c := callOf(r)
	segs := strings.Split(strings.Trim(s.callRecord(c).Path, "/"), "/")
	last := segs[len(segs)-1]
	writeError(w, c, http.StatusBadRequest, "BadRequest", "Resource not found for the segment '"+last+"'.")
}

func servedHost(host string) bool {
	for _, h := range Hosts {
		if host == h {
			return true
		}
	}
	return false
}

// bearer returns the token of an "Authorization: Bearer" header.
func bearer(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return token, true
}
