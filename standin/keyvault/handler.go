package keyvault

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/putsecrets/putsecrets/standin/internal/wire"
)

// Messages of the real service (AKV10000 and the 403/404/429 texts are
// verbatim from service answers; the other AKV codes are close renditions).
const (
	msgNoToken       = "AKV10000: Request is missing a Bearer or PoP token."
	msgUnknownToken  = "AKV10046: Unable to resolve the key used for signature validation."
	msgAudienceFmt   = "AKV10022: Invalid audience. Expected %s, found: %s."
	msgDisabled      = "Operation get is not allowed on a disabled secret."
	msgNotFoundFmt   = "A secret with (name/id) %s was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182"
	msgThrottled     = "Request was not processed because too many requests were received. Reason: VaultRequestTypeLimitReached"
	msgInternal      = "An unexpected error occurred while processing the request."
	msgUnavailable   = "The service is temporarily unavailable. Please retry later."
	msgNoAPIVersion  = "The 'api-version' query parameter is missing."
	msgBadAPIVersion = "The specified version (%s) is not recognized. Consider using the latest supported version (2026-04-01)."
)

var (
	secretName = regexp.MustCompile(`^[0-9a-zA-Z-]{1,127}$`)
	apiVersion = regexp.MustCompile(`^(\d+\.\d+|\d{4}-\d{2}-\d{2})(-preview(\.\d+)?)?$`)
)

// exchange is one request in flight.
type exchange struct {
	w        http.ResponseWriter
	r        *http.Request
	host     string
	cloud    Cloud
	resource string // the challenge's resource (the cloud's unless SetChallengeResource)
	reqID    string
	idx      int // index in s.requests
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	x := &exchange{w: w, r: r, host: wire.HostOnly(r.Host), reqID: wire.UUID()}
	rec := Request{Host: x.host, Method: r.Method, Path: r.URL.Path, APIVersion: r.URL.Query().Get("api-version"), RequestID: x.reqID}
	if m := secretPath.FindStringSubmatch(r.URL.Path); m != nil {
		rec.Name, rec.Version = m[1], m[2]
	}
	s.mu.Lock()
	x.idx = len(s.requests)
	s.requests = append(s.requests, rec)
	busy := s.inFlight[x.host]
	if busy == nil {
		busy = &inFlight{}
		s.inFlight[x.host] = busy
	}
	busy.now++
	busy.max = max(busy.max, busy.now)
	s.mu.Unlock()
	s.changed.Broadcast()

	// The status is recorded before it is written, so that it is visible
	// once the client has its answer; Done follows when the handler ends.
	x.w = &wire.StatusWriter{ResponseWriter: w, OnStatus: func(code int) {
		s.mu.Lock()
		s.requests[x.idx].Status = code
		s.mu.Unlock()
	}}
	s.serve(x, &rec)

	s.mu.Lock()
	s.requests[x.idx].Done = true
	busy.now--
	s.mu.Unlock()
	s.changed.Broadcast()
}

// serve answers the exchange and returns the status sent (0 for none).
func (s *Server) serve(x *exchange, rec *Request) int {
	h := x.w.Header()
	h.Set("Cache-Control", "no-cache")
	h.Set("Pragma", "no-cache")
	h.Set("Expires", "-1")
	h.Set("x-ms-keyvault-region", "westeurope")
	h.Set("x-ms-request-id", x.reqID)
	h.Set("x-ms-keyvault-service-version", ServiceVersion)
	h.Set("x-ms-keyvault-network-info", "conn_type=Ipv4;addr=127.0.0.1;act_addr_fam=InterNetwork;")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Strict-Transport-Security", "max-age=31536000;includeSubDomains")
	if id := x.r.Header.Get("x-ms-client-request-id"); id != "" {
		h.Set("x-ms-client-request-id", id)
	}

	cloud, ok := CloudOf(x.host)
	if !ok {
		http.Error(x.w, "no vault is served at "+x.host, http.StatusMisdirectedRequest)
		return http.StatusMisdirectedRequest
	}
	x.cloud = cloud

	// Authentication comes first, whatever the path.
	s.mu.Lock()
	v := s.vaultLocked(x.host)
	reject := v.rejectTokens
	x.resource = cmp.Or(v.resource, cloud.Resource())
	s.mu.Unlock()
	token, hasToken := bearer(x.r)
	grant, known := s.tokens.Grant(token)
	switch {
	case !hasToken:
		return s.challenge(x, msgNoToken)
	case reject || !known || (!grant.ExpiresOn.IsZero() && time.Now().After(grant.ExpiresOn)):
		return s.challenge(x, msgUnknownToken)
	case !audienceOK(grant.Resource, cloud.Resource()):
		s.mu.Lock()
		s.requests[x.idx].Resource = grant.Resource
		s.mu.Unlock()
		return s.challenge(x, fmt.Sprintf(msgAudienceFmt, cloud.Resource(), grant.Resource))
	}
	s.mu.Lock()
	s.requests[x.idx].Authorized = true
	s.requests[x.idx].Resource = grant.Resource
	fault, faulted := v.nextFault(rec.Name)
	denied, g := v.denied, v.gate
	s.mu.Unlock()

	if g != nil && !s.pass(x.r.Context(), g) {
		return 0
	}
	if faulted {
		if !wire.Wait(x.r.Context(), s.done, fault.Delay) {
			return 0
		}
		if fault.Reset {
			wire.Reset(x.w)
			return 0
		}
		if fault.Status != 0 {
			return s.fault(x, rec, grant.ClientID, grant.ObjectID, fault)
		}
	}

	if x.r.Method != http.MethodGet || rec.Name == "" {
		return s.error(x, http.StatusMethodNotAllowed, "BadParameter", "", fmt.Sprintf("The operation %s %s is not supported by this stand-in.", x.r.Method, x.r.URL.Path))
	}
	switch {
	case rec.APIVersion == "":
		return s.error(x, http.StatusBadRequest, "BadParameter", "", msgNoAPIVersion)
	case !apiVersion.MatchString(rec.APIVersion):
		return s.error(x, http.StatusBadRequest, "BadParameter", "", fmt.Sprintf(msgBadAPIVersion, rec.APIVersion))
	case !secretName.MatchString(rec.Name):
		return s.error(x, http.StatusBadRequest, "BadParameter", "", fmt.Sprintf("The secret name '%s' is invalid.", rec.Name))
	case denied:
		return s.error(x, http.StatusForbidden, "Forbidden", "ForbiddenByRbac", s.rbacMessage(x.host, rec.Name, grant.ClientID, grant.ObjectID))
	}
	return s.getSecret(x, rec)
}

// getSecret answers GET /secrets/{name}[/{version}].
func (s *Server) getSecret(x *exchange, rec *Request) int {
	s.mu.Lock()
	v := s.vaultLocked(x.host)
	sec, ok := v.secrets[strings.ToLower(rec.Name)]
	var ver *version
	if ok {
		if rec.Version == "" {
			ver = sec.versions[len(sec.versions)-1]
		} else {
			for _, c := range sec.versions {
				if strings.EqualFold(c.id, rec.Version) {
					ver = c
				}
			}
		}
	}
	if ver != nil && ver.enabled {
		v.reads[strings.ToLower(rec.Name)]++
	}
	s.mu.Unlock()

	switch {
	case ver == nil:
		id := rec.Name
		if rec.Version != "" {
			id += "/" + rec.Version
		}
		return s.error(x, http.StatusNotFound, "SecretNotFound", "", fmt.Sprintf(msgNotFoundFmt, id))
	case !ver.enabled:
		return s.error(x, http.StatusForbidden, "Forbidden", "SecretDisabled", msgDisabled)
	}
	tags := ver.tags
	if tags == nil {
		tags = map[string]string{}
	}
	body := bundle{
		Value:       ver.value,
		ContentType: ver.contentType,
		ID:          "https://" + x.host + "/secrets/" + sec.name + "/" + ver.id,
		Attributes: attributes{
			Enabled:         true,
			Created:         ver.created.Unix(),
			Updated:         ver.created.Unix(),
			RecoveryLevel:   "Recoverable+Purgeable",
			RecoverableDays: 90,
		},
		Tags: tags,
	}
	wire.WriteJSON(x.w, http.StatusOK, "application/json; charset=utf-8", body)
	return http.StatusOK
}

// pass waits at the gate g until it opens; false when the client left or
// the server closed first.
func (s *Server) pass(ctx context.Context, g *gate) bool {
	s.mu.Lock()
	g.held++
	if g.held >= g.n {
		g.release()
	}
	s.mu.Unlock()
	select {
	case <-g.open:
		return true
	case <-ctx.Done():
	case <-s.done:
	}
	s.mu.Lock()
	g.held--
	s.mu.Unlock()
	return false
}

// bundle is Key Vault's SecretBundle, fields in the service's order.
type bundle struct {
	Value       *string           `json:"value,omitempty"`
	ContentType string            `json:"contentType,omitempty"`
	ID          string            `json:"id"`
	Attributes  attributes        `json:"attributes"`
	Tags        map[string]string `json:"tags"`
}

type attributes struct {
	Enabled         bool   `json:"enabled"`
	Created         int64  `json:"created"`
	Updated         int64  `json:"updated"`
	RecoveryLevel   string `json:"recoveryLevel"`
	RecoverableDays int    `json:"recoverableDays"`
}

// challenge answers 401 with the cloud's challenge.
func (s *Server) challenge(x *exchange, msg string) int {
	s.setChallenge(x)
	return s.error(x, http.StatusUnauthorized, "Unauthorized", "", msg)
}

// setChallenge sets the WWW-Authenticate header of the vault's cloud.
func (s *Server) setChallenge(x *exchange) {
	x.w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer authorization="https://%s/%s", resource="%s"`, x.cloud.Authority, s.tenant, x.resource))
}

// fault answers a scripted error status, filling in the service's code and
// message for the status where the script left them empty.
func (s *Server) fault(x *exchange, rec *Request, clientID, objectID string, f Fault) int {
	code, inner, msg := f.Code, f.InnerCode, f.Message
	def := func(c, i, m string) {
		if code == "" {
			code = c
			if inner == "" {
				inner = i
			}
		}
		if msg == "" {
			msg = m
		}
	}
	switch f.Status {
	case http.StatusUnauthorized:
		def("Unauthorized", "", msgUnknownToken)
		s.setChallenge(x)
	case http.StatusForbidden:
		def("Forbidden", "ForbiddenByRbac", s.rbacMessage(x.host, rec.Name, clientID, objectID))
	case http.StatusNotFound:
		def("SecretNotFound", "", fmt.Sprintf(msgNotFoundFmt, rec.Name))
	case http.StatusTooManyRequests:
		def("Throttled", "", msgThrottled)
	case http.StatusInternalServerError:
		def("InternalServerError", "", msgInternal)
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		def("ServiceUnavailable", "", msgUnavailable)
	default:
		def(http.StatusText(f.Status), "", http.StatusText(f.Status))
	}
	if f.RetryAfter != "" {
		x.w.Header().Set("Retry-After", f.RetryAfter)
	}
	if f.Location != "" {
		x.w.Header().Set("Location", f.Location)
	}
	return s.error(x, f.Status, code, inner, msg)
}

// rbacMessage is the service's RBAC denial text.
func (s *Server) rbacMessage(host, name, clientID, objectID string) string {
	vaultName := strings.SplitN(host, ".", 2)[0]
	return "Caller is not authorized to perform action on resource.\r\n" +
		"If role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\n" +
		"Caller: appid=" + clientID + ";oid=" + objectID + ";iss=https://sts.windows.net/" + s.tenant + "/\r\n" +
		"Action: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'\r\n" +
		"Resource: '/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/putsecrets-rg/providers/microsoft.keyvault/vaults/" + vaultName + "/secrets/" + strings.ToLower(name) + "'\r\n" +
		"Assignment: (not found)\r\n" +
		"DenyAssignmentId: null\r\n" +
		"DecisionReason: 'DeniedWithNoValidRBAC' \r\n" +
		"Vault: " + vaultName + ";location=westeurope\r\n"
}

// errorBody is Key Vault's error document.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code       string      `json:"code"`
	Message    string      `json:"message"`
	InnerError *innerError `json:"innererror,omitempty"`
}

type innerError struct {
	Code string `json:"code"`
}

func (s *Server) error(x *exchange, status int, code, inner, msg string) int {
	d := errorDetail{Code: code, Message: msg}
	if inner != "" {
		d.InnerError = &innerError{Code: inner}
	}
	wire.WriteJSON(x.w, status, "application/json; charset=utf-8", errorBody{d})
	return status
}

// bearer returns the token of an "Authorization: Bearer" header.
func bearer(r *http.Request) (string, bool) {
	auth := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return token, true
}

// audienceOK accepts the cloud's resource with or without a trailing slash.
func audienceOK(got, want string) bool {
	return strings.TrimSuffix(got, "/") == want
}
