package problem

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/putsecrets/putsecrets/internal/credential"
	"github.com/putsecrets/putsecrets/internal/graph"
	"github.com/putsecrets/putsecrets/internal/provision"
	"github.com/putsecrets/putsecrets/internal/request"
	"github.com/putsecrets/putsecrets/internal/secret"
	"github.com/putsecrets/putsecrets/internal/transport"
	"github.com/putsecrets/putsecrets/internal/vault"
)

// failure is one classified leaf error.
type failure struct {
	status     int
	message    string
	fields     []string
	dep        *Dependency
	retryAfter time.Duration
}

// From maps err to its status and problem document. It is the only place
// that decides a status (docs/contract.md §3):
//
//	400 invalid request (also one the graph client refused to send) · 403 refused by policy · 404 no such service principal
//	422 secret missing/disabled, Graph rejected the payload or the credentials
//	502 Key Vault 403, Graph 401/403, the identity endpoint refused the identity,
//	    a redirect from any of them (never followed)
//	503 throttled or unavailable after retries, out of time · 500 anything else
//
// A Graph 401, 403 or 404 that outlasted the replication wait
// (*graph.ReplicationError) keeps its status, 502 or 404, and the detail names
// both causes: not replicated yet, or the identity may not see or write it.
// A *provision.StageError after the save (Saved is SavedYes) keeps its
// cause's status, and the detail says that the secrets were saved. One that
// ran out of time says how far the invocation got and whether the secrets
// were saved (Document.Stage and Saved); where the clock caused it, it is a
// 503 whose detail starts so. A *provision.NotKeptError (the kept state could
// not be written after the save, or read before) is 503.
//
// When several failures happened (several secrets), every one is listed and
// the status is the one that needs a person's action first.
//
// When err carries an invocation's secret.Scrubber (secret.Scrubber.Wrap, as
// provision.Put returns its errors), every text of the document is scrubbed
// by it: the last line behind the scrubbing where dependency text enters.
func From(err error) *Problem {
	p := from(err)
	if s := secret.ScrubberOf(err); s != nil {
		p = p.scrubbed(s)
	}
	return p
}

// FromDependency is From for an error met while calling dependency (e.g.
// "Service Bus") outside Put, where the error itself may not tell which
// service failed (a token or network failure on the way to it).
func FromDependency(dependency string, err error) *Problem {
	p := fromFailures(err, scope{dependency: dependency}, nil)
	if s := secret.ScrubberOf(err); s != nil {
		p = p.scrubbed(s)
	}
	return p
}

// scope is what the stage that failed says of all its failures: the
// dependency it was calling and the request fields it concerns, for causes
// that cannot tell.
type scope struct {
	dependency string
	fields     []string
}

// scrubbed returns a copy of p with every text scrubbed by s but the field
// paths and the vault name, which come from the request's structure.
func (p *Problem) scrubbed(s *secret.Scrubber) *Problem {
	q := *p
	q.Doc.Detail = s.Scrub(q.Doc.Detail)
	if q.Doc.Errors != nil {
		q.Doc.Errors = make([]FieldError, len(p.Doc.Errors))
		for i, e := range p.Doc.Errors {
			q.Doc.Errors[i] = FieldError{Field: e.Field, Message: s.Scrub(e.Message)}
		}
	}
	if d := p.Doc.Dependency; d != nil {
		q.Doc.Dependency = &Dependency{Service: d.Service, Status: d.Status, Code: s.Scrub(d.Code),
			InnerCode: s.Scrub(d.InnerCode), RequestID: s.Scrub(d.RequestID),
			ClientRequestID: s.Scrub(d.ClientRequestID), Vault: d.Vault}
	}
	return &q
}

func from(err error) *Problem {
	var reqErr *request.Error
	if errors.As(err, &reqErr) {
		return fromRequest(reqErr)
	}
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	if notKept, ok := errors.AsType[*provision.NotKeptError](err); ok {
		return fromNotKept(notKept)
	}
	stage, _ := errors.AsType[*provision.StageError](err)
	var sc scope
	if stage != nil {
		sc = scope{dependency: stage.Dependency, fields: stage.Fields}
	}
	return fromFailures(err, sc, stage)
}

// fromFailures classifies every failure under err (one per failed secret)
// and builds the document of the one that needs a person's action first,
// listing every failure's fields. stage, when err holds one, says how far
// the invocation got.
func fromFailures(err error, sc scope, stage *provision.StageError) *Problem {
	var fs []failure
	for _, leaf := range leaves(err) {
		fs = append(fs, classify(leaf, sc))
	}
	sort.SliceStable(fs, func(i, j int) bool { return rank(fs[i].status) > rank(fs[j].status) })
	top := fs[0]
	prob := &Problem{Status: top.status, Doc: Document{
		Type: kindOf(top.status).typ, Title: kindOf(top.status).title, Status: top.status,
		Detail: top.message, Dependency: top.dep,
	}}
	for _, f := range fs {
		if f.retryAfter > prob.RetryAfter {
			prob.RetryAfter = f.retryAfter
		}
		for _, field := range f.fields {
			prob.Doc.Errors = append(prob.Doc.Errors, FieldError{Field: field, Message: f.message})
		}
	}
	if len(fs) > 1 {
		prob.Doc.Detail = fmt.Sprintf("%d secrets could not be read; the first: %s", len(fs), top.message)
	}
	sort.SliceStable(prob.Doc.Errors, func(i, j int) bool { return fieldLess(prob.Doc.Errors[i].Field, prob.Doc.Errors[j].Field) })
	switch {
	case stage == nil:
	case stage.OutOfTime:
		outOfTime(prob, stage)
	case stage.Saved == provision.SavedYes:
		prob.Doc.Detail = fmt.Sprintf("The secrets were saved (Graph request-id %s), but the job follow-up failed: %s",
			stage.RequestID, prob.Doc.Detail)
	}
	if prob.RetryAfter > 0 && prob.Status == 503 {
		s := retryAfterSeconds(prob.RetryAfter)
		prob.Doc.RetryAfter = &s
	} else {
		prob.RetryAfter = 0
	}
	return prob
}

// outOfTime says in prob how far an invocation that ran out of time got,
// and whether its secrets were saved. A failure that is the clock's (503, or
// one not understood) becomes a 503 whose detail starts with that; one a
// dependency answered keeps its status and detail.
func outOfTime(prob *Problem, e *provision.StageError) {
	prob.Doc.Stage = e.Stage
	if e.Saved != provision.SavedUnknown {
		saved := e.Saved == provision.SavedYes
		prob.Doc.Saved = &saved
	}
	if prob.Status != 503 && prob.Status != 500 {
		return
	}
	var what string
	switch e.Saved {
	case provision.SavedYes:
		what = fmt.Sprintf("The secrets were saved (Graph request-id %s), but %s did not finish in time", e.RequestID, e.Stage)
	case provision.SavedUnknown:
		what = fmt.Sprintf("The invocation ran out of time while %s: Microsoft Graph had not answered the PUT, so the secrets "+
			"may or may not have been saved (sending the same request again is safe)", e.Stage)
	default:
		what = fmt.Sprintf("The invocation ran out of time while %s; nothing was saved", e.Stage)
	}
	inner := prob.Doc.Detail
	if prob.Status == 500 {
		inner = "retry later"
	}
	prob.Status, prob.Doc.Status = 503, 503
	prob.Doc.Type, prob.Doc.Title = kindOf(503).typ, kindOf(503).title
	prob.Doc.Detail = what + ". " + inner
}

func fromRequest(e *request.Error) *Problem {
	status := 400
	if e.PolicyOnly() {
		status = 403
	}
	errs := make([]FieldError, len(e.Problems))
	for i, p := range e.Problems {
		errs[i] = FieldError{Field: p.Field, Message: p.Message}
	}
	detail := "the request document has %d problem(s); nothing was sent to Key Vault or Microsoft Graph"
	if status == 403 {
		detail = "the request asks for something the app's settings do not allow (%d problem(s)); nothing was sent to Key Vault or Microsoft Graph"
	}
	return New(status, fmt.Sprintf(detail, len(errs)), errs...)
}

// classify maps one failure; sc is what its stage says of it.
func classify(err error, sc scope) failure {
	fields := sc.fields
	var gerr *graph.ResponseError
	var verr *vault.Error
	var argErr *graph.ArgumentError
	if errors.As(err, &verr) && len(verr.Fields) > 0 {
		fields = verr.Fields
	}
	if f, ok := fromRedirect(err, sc.dependency); ok {
		f.fields = fields
		return f
	}
	switch {
	case errors.As(err, &argErr):
		// The graph client refused the call before sending it: retrying
		// cannot help, so it is the invalid-request class (permanent).
		return failure{status: 400, fields: fields, message: fmt.Sprintf(
			"the request cannot be sent to Microsoft Graph (%s); nothing was sent: correct the request", argErr)}
	case errors.As(err, &gerr):
		var wait *graph.ReplicationError
		errors.As(err, &wait)
		f := fromGraph(gerr, wait)
		f.fields = fields
		return f
	case errors.As(err, &verr):
		f := fromVault(verr)
		f.fields = fields
		return f
	}
	who := cmp.Or(sc.dependency, "a dependency")
	f := fromTransport(who, err)
	f.fields = fields
	return f
}

func fromGraph(e *graph.ResponseError, wait *graph.ReplicationError) failure {
	dep := &Dependency{Service: "graph", Status: e.StatusCode, Code: e.Code, InnerCode: e.InnerCode,
		RequestID: e.RequestID, ClientRequestID: e.ClientRequestID}
	said := graphSaid(e)
	hint := ""
	if h, ok := innerCodeHints[strings.ToLower(e.InnerCode)]; ok {
		hint = " " + h
	}
	job := e.Operation == graph.OperationStartJob || e.Operation == graph.OperationRestartJob || e.Operation == graph.OperationGetJob
	switch s := e.StatusCode; {
	case wait != nil && s == http.StatusUnauthorized:
		return failure{status: 502, dep: dep, message: stillRefused(e, wait, said) + " Either " + notReplicated +
			"; or the app's managed identity " + mayNotWrite + "."}
	case wait != nil && s == http.StatusForbidden:
		return failure{status: 502, dep: dep, message: stillRefused(e, wait, said) + " The app's managed identity " +
			mayNotWrite + ". A grant or an ownership made moments ago can answer this until it has replicated: " +
			"retry later, or raise " + settingConsistencyWait + "."}
	case wait != nil && s == http.StatusNotFound:
		if e.Operation == graph.OperationValidateCredentials {
			hint += " With validate.jobId, also check that the job exists on the service principal."
		}
		return failure{status: 404, dep: dep, message: stillRefused(e, wait, said) + " Either " + notReplicated +
			"; or the app's managed identity cannot see it: grant the identity " + permSyncAll + ", or " + permOwnedBy +
			" and add the identity as an owner of the service principal; or it does not exist: use the object ID of " +
			"the enterprise application's service principal, not the app registration's application ID." + hint}
	case s == http.StatusBadRequest && e.Operation == graph.OperationValidateCredentials:
		return failure{status: 422, dep: dep, message: fmt.Sprintf(
			"The target application did not accept the credentials when Microsoft Graph validated them (%s).%s "+
				"Nothing was saved and the job was not touched.", said, hint)}
	case s == http.StatusBadRequest && job:
		return failure{status: 422, dep: dep, message: fmt.Sprintf(
			"Microsoft Graph refused %s (%s).%s", operationText(e.Operation), said, hint)}
	case s == http.StatusBadRequest:
		return failure{status: 422, dep: dep, message: fmt.Sprintf(
			"Microsoft Graph rejected the secrets (%s).%s Nothing was saved.", said, hint)}
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		return failure{status: 502, dep: dep, message: fmt.Sprintf(
			"Microsoft Graph refused the app's identity while %s (%s). Grant the app's managed identity the Microsoft "+
				"Graph application permission %s, or %s and add the identity as an owner of the target service "+
				"principal. A service principal created moments ago can also answer this until it has replicated: "+
				"retry in a minute.", operationText(e.Operation), said, permSyncAll, permOwnedBy)}
	case s == http.StatusNotFound && job:
		return failure{status: 404, dep: dep, message: fmt.Sprintf(
			"Microsoft Graph has no such synchronization job on the service principal (%s): list its jobs with "+
				"GET /servicePrincipals/{id}/synchronization/jobs and use a job's id.", said)}
	case s == http.StatusNotFound:
		return failure{status: 404, dep: dep, message: fmt.Sprintf(
			"Microsoft Graph has no such service principal (%s). Use the object ID of the enterprise application's "+
				"service principal (not the app registration's application ID); a service principal created moments "+
				"ago may not have replicated yet.", said)}
	case s == http.StatusTooManyRequests || s == http.StatusConflict || s == http.StatusRequestTimeout || s >= 500:
		return failure{status: 503, dep: dep, retryAfter: e.RetryAfter, message: fmt.Sprintf(
			"Microsoft Graph stayed throttled or unavailable after retries while %s (%s); retry later.", operationText(e.Operation), said)}
	default:
		return failure{status: 502, dep: dep, message: fmt.Sprintf(
			"Microsoft Graph refused %s (%s).", operationText(e.Operation), said)}
	}
}

// The permissions and the setting Graph failures name.
const (
	permSyncAll            = "Synchronization.ReadWrite.All"
	permOwnedBy            = "Application.ReadWrite.OwnedBy"
	settingConsistencyWait = "PUTSECRETS_GRAPH_CONSISTENCY_WAIT"
)

// The causes a Graph refusal that outlasted the consistency wait names.
const (
	// notReplicated is the replication delay of a new service principal.
	notReplicated = "the service principal was created moments ago and has not replicated yet: retry later, or raise " +
		settingConsistencyWait
	// mayNotWrite is a missing grant, and how to make it.
	mayNotWrite = "may not write it: grant the identity the Microsoft Graph application permission " + permSyncAll +
		", or " + permOwnedBy + " and add the identity as an owner of the service principal"
)

// stillRefused opens the message of a Graph refusal of the service principal
// that outlasted the consistency wait: what Graph answered, while doing what,
// what it said and how long it was waited for.
func stillRefused(e *graph.ResponseError, wait *graph.ReplicationError, said string) string {
	return fmt.Sprintf("Microsoft Graph %s %d for the service principal while %s (%s; %s).",
		answered(wait), e.StatusCode, operationText(e.Operation), said, waited(wait))
}

// operationText says what the app was doing when Graph answered.
func operationText(op string) string {
	switch op {
	case graph.OperationPutSecrets:
		return "saving the secrets"
	case graph.OperationValidateCredentials:
		return "validating the credentials"
	case graph.OperationStartJob:
		return "starting the synchronization job"
	case graph.OperationRestartJob:
		return "restarting the synchronization job"
	case graph.OperationGetJob:
		return "reading the synchronization job"
	}
	return "calling it"
}

// waited describes a replication wait that ran out.
func waited(w *graph.ReplicationError) string {
	if w.Limit <= 0 {
		return "no replication wait: " + settingConsistencyWait + " is 0"
	}
	return fmt.Sprintf("%d tries over %s, waiting at most %s", w.Tries, w.Waited.Round(100*time.Millisecond), w.Limit)
}

// answered is how Graph's answers to a replication wait are told.
func answered(w *graph.ReplicationError) string {
	if w.Tries > 1 {
		return "kept answering"
	}
	return "answered"
}

func graphSaid(e *graph.ResponseError) string {
	parts := []string{fmt.Sprint(e.StatusCode)}
	if e.Code != "" {
		parts = append(parts, e.Code)
	}
	if e.InnerCode != "" && e.InnerCode != e.Code {
		parts = append(parts, e.InnerCode)
	}
	s := strings.Join(parts, " ")
	if m := strings.Join(strings.Fields(e.Message), " "); m != "" {
		// One line, bounded: the synchronization service's messages quote
		// the target's answers, headers and all.
		if r := []rune(m); len(r) > maxGraphMessage {
			m = string(r[:maxGraphMessage]) + "…"
		}
		s += ": " + strings.TrimSuffix(m, ".")
	}
	if e.RequestID != "" {
		s += "; request-id " + e.RequestID
	}
	return s
}

// maxGraphMessage bounds how much of Graph's message a detail quotes, in
// characters.
const maxGraphMessage = 600

// innerCodeHints say what to do about the synchronization service's own
// error codes (matched without regard to case): which key to look at.
var innerCodeHints = map[string]string{
	"invalidnotificationsettings": "SyncNotificationSettings must be a JSON object such as " +
		`{"Enabled":true,"Recipients":"ops@example.com","DeleteThresholdEnabled":true,"DeleteThresholdValue":50}.`,
	"invalidcredentials":          "The target application refused the credentials: check the secret's current value in Key Vault.",
	"credentialsvalidationfailed": "The target application refused the credentials: check BaseAddress and the token in Key Vault.",
	"systemforcrossdomainidentitymanagementcredentialvalidationfailure": "The SCIM endpoint refused the credentials: " +
		"check that BaseAddress is the application's SCIM endpoint and that SecretToken in Key Vault holds a current, " +
		"unexpired token for it.",
	"systemforcrossdomainidentitymanagementcredentialvalidationunavailable": "The synchronization service could not " +
		"reach the SCIM endpoint: check that BaseAddress is right and that the endpoint is reachable from the internet " +
		"(Microsoft Entra provisioning calls it from Microsoft's cloud).",
}

func fromVault(e *vault.Error) failure {
	dep := &Dependency{Service: "keyVault", Vault: e.Ref.Vault}
	var re *azcore.ResponseError
	if errors.As(e.Err, &re) {
		dep.Status, dep.Code = re.StatusCode, re.ErrorCode
		if re.RawResponse != nil {
			dep.RequestID = re.RawResponse.Header.Get("x-ms-request-id")
		}
	}
	what := fmt.Sprintf("secret %q in vault %q", e.Ref.Name, e.Ref.Vault)
	if e.Ref.Version != "" {
		what = fmt.Sprintf("secret %q version %s in vault %q", e.Ref.Name, e.Ref.Version, e.Ref.Vault)
	}
	switch {
	case vault.NotFound(e):
		return failure{status: 422, dep: dep, message: fmt.Sprintf(
			"%s does not exist: create it, or correct the reference", what)}
	case vault.Disabled(e):
		dep.InnerCode = "SecretDisabled"
		return failure{status: 422, dep: dep, message: fmt.Sprintf(
			"%s is disabled: enable it or reference an enabled version", what)}
	case vault.Forbidden(e):
		return failure{status: 502, dep: dep, message: fmt.Sprintf(
			"vault %q refused the app's identity reading %s: assign the identity the \"Key Vault Secrets User\" role "+
				"on the vault (RBAC), or a Get secret permission (access policy)", e.Ref.Vault, what)}
	}
	if ra, ok := vault.Throttled(e); ok {
		return failure{status: 503, dep: dep, retryAfter: ra, message: fmt.Sprintf(
			"vault %q stayed throttled or unavailable after retries reading %s; retry later", e.Ref.Vault, what)}
	}
	if re != nil {
		return failure{status: 502, dep: dep, message: fmt.Sprintf(
			"vault %q refused reading %s (%d %s)", e.Ref.Vault, what, re.StatusCode, re.ErrorCode)}
	}
	f := fromTransport(fmt.Sprintf("vault %q", e.Ref.Vault), e.Err)
	if f.dep == nil {
		f.dep = dep
	}
	return f
}

// fromRedirect classifies a redirect that the shared client refused
// (transport.RedirectError): 502, naming the status and the host it pointed
// to, for Graph, Key Vault and the identity endpoint alike. The identity
// endpoint's redirect is found on the *credential.Error, as azidentity keeps
// only the text of the error it met.
func fromRedirect(err error, dependency string) (failure, bool) {
	r, ok := errors.AsType[*transport.RedirectError](err)
	tokenErr, isToken := errors.AsType[*credential.Error](err)
	if isToken && tokenErr.Redirect != nil {
		r, ok = tokenErr.Redirect, true
	}
	if !ok {
		return failure{}, false
	}
	dep := &Dependency{Status: r.StatusCode}
	who := "a dependency"
	verr, isVault := errors.AsType[*vault.Error](err)
	switch {
	case isToken:
		dep.Service, who = "managedIdentity", "the identity endpoint"
	case isVault:
		dep.Service, dep.Vault, who = "keyVault", verr.Ref.Vault, fmt.Sprintf("vault %q", verr.Ref.Vault)
	case dependency == provision.DependencyGraph:
		dep.Service, who = "graph", dependency
	case dependency == provision.DependencyKeyVault:
		dep.Service, who = "keyVault", dependency
	case dependency != "":
		who = dependency
	}
	to := "without a usable Location"
	if r.To != "" {
		to = "pointing to host " + r.To
	}
	return failure{status: 502, dep: dep, message: fmt.Sprintf(
		"%s (%s) answered %d %s %s. The app follows no redirect: requests go only to the hosts they were built "+
			"for, so nothing was sent to %s. Azure services do not redirect these calls: check HTTPS_PROXY and any "+
			"proxy or network appliance between the app and %s.",
		who, r.From, r.StatusCode, http.StatusText(r.StatusCode), to, cmp.Or(r.To, "another host"), r.From)}, true
}

// fromTransport classifies errors that carry no dependency answer: the
// identity endpoint's, the network's, the clock's.
func fromTransport(who string, err error) failure {
	var tokenErr *credential.Error
	if errors.As(err, &tokenErr) {
		dep := &Dependency{Service: "managedIdentity"}
		var authErr *azidentity.AuthenticationFailedError
		if errors.As(err, &authErr) && authErr.RawResponse != nil {
			dep.Status = authErr.RawResponse.StatusCode
			if s := dep.Status; s >= 400 && s < 500 && s != 429 && s != 408 {
				return failure{status: 502, dep: dep, message: fmt.Sprintf(
					"the identity endpoint refused a token for %s (%d): check that AZURE_CLIENT_ID names a "+
						"user-assigned identity attached to the app, or that the system-assigned identity is on", who, s)}
			}
		}
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return failure{status: 503, dep: dep, message: fmt.Sprintf(
				"ran out of time getting a token for %s from the identity endpoint; retry later", who)}
		}
		return failure{status: 503, dep: dep, message: fmt.Sprintf(
			"no token for %s: the identity endpoint failed or no credential is available "+
				"(in Azure, turn the app's managed identity on; on a developer machine, run az login); retry later", who)}
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		// azcore's retry policy reports only the context's error once it is
		// done, so a slow identity endpoint looks the same as a slow service.
		return failure{status: 503, message: fmt.Sprintf(
			"ran out of time waiting for %s (or for the managed identity token it needs); retry later", who)}
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return failure{status: 503, message: fmt.Sprintf(
			"could not reach %s (network error); retry later", who)}
	}
	return failure{status: 500, message: "an internal error occurred"}
}

// fieldLess orders "secrets[2]" before "secrets[10]".
func fieldLess(a, b string) bool {
	if len(a) != len(b) && strings.HasPrefix(a, "secrets[") && strings.HasPrefix(b, "secrets[") {
		ia, ib := strings.IndexByte(a, ']'), strings.IndexByte(b, ']')
		if ia != ib {
			return ia < ib
		}
	}
	return a < b
}
