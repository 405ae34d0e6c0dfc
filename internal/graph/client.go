// Package graph is a small Microsoft Graph client for the synchronization
// API of service principals, built on the Azure SDK's azcore pipeline.
//
// It follows the Azure SDK for Go client pattern: NewClient takes the cloud's
// Graph endpoint, a credential and optional ClientOptions; authentication is
// one bearer-token policy per retry; retries, Retry-After, token refresh and
// redacted logging come from azcore. Each operation lives in its own file and
// takes four steps: build the request, Pipeline().Do, check the status code,
// decode. Every non-success answer becomes a *ResponseError.
//
// The operations are those of a credential rotation: PutSecrets,
// ValidateCredentials, StartJob, RestartJob and GetJob. Secret values are
// revealed in one place (revealPairs), for the two request bodies that carry
// them, and every operation's error is scrubbed of every value of the
// invocation (secret.Scrubber, from the context) in one place (send). ReplicationWait
// is the one retry loop beyond azcore's: it rides out the 401s and 404s of a
// service principal created moments ago, within a bound.
package graph

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"

	"github.com/putsecrets/putsecrets/internal/secret"
	"github.com/putsecrets/putsecrets/internal/transport"
)

const (
	moduleName    = "github.com/putsecrets/putsecrets/internal/graph"
	moduleVersion = "v0.1.0"
)

// The Graph API versions a request (apiVersion) and the deployment
// (PUTSECRETS_GRAPH_API_VERSION) may name: the one definition request and
// config check against.
const (
	APIVersionV1   = "v1.0"
	APIVersionBeta = "beta"
)

// CanonicalAPIVersion returns APIVersionV1 or APIVersionBeta for s in any
// ASCII casing, and false for anything else.
func CanonicalAPIVersion(s string) (string, bool) {
	for _, v := range [...]string{APIVersionV1, APIVersionBeta} {
		if len(s) == len(v) && strings.EqualFold(s, v) { // equal lengths: no non-ASCII fold (the Kelvin sign) matches
			return v, true
		}
	}
	return "", false
}

// Operation names, as ResponseError.Operation carries them.
const (
	OperationPutSecrets          = "PutSecrets"
	OperationValidateCredentials = "ValidateCredentials"
	OperationStartJob            = "StartJob"
	OperationRestartJob          = "RestartJob"
	OperationGetJob              = "GetJob"
)

// Headers Graph reads and answers with.
const (
	headerClientRequestID = "client-request-id"
	headerRequestID       = "request-id"
)

// defaultRetryStatusCodes are azcore's defaults plus 409, which peers such as
// the Terraform azuread provider retry on every synchronization call.
var defaultRetryStatusCodes = []int{
	http.StatusRequestTimeout,      // 408
	http.StatusConflict,            // 409
	http.StatusTooManyRequests,     // 429
	http.StatusInternalServerError, // 500
	http.StatusBadGateway,          // 502
	http.StatusServiceUnavailable,  // 503
	http.StatusGatewayTimeout,      // 504
}

// ClientOptions contains optional settings for Client.
//
// Retry.StatusCodes defaults to 408, 409, 429, 500, 502, 503 and 504 when
// left nil. Logging.IncludeBody is always off: request bodies hold secret
// values.
type ClientOptions struct {
	azcore.ClientOptions
}

// Client calls Microsoft Graph. It is safe for concurrent use.
type Client struct {
	endpoint string
	internal *azcore.Client
}

// NewClient returns a client for the Graph endpoint of one cloud, such as
// "https://graph.microsoft.com" (no version, no path). Tokens are requested
// for endpoint + "/.default". NewClient does no network I/O. Pass nil options
// for the defaults.
func NewClient(endpoint string, cred azcore.TokenCredential, options *ClientOptions) (*Client, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("graph endpoint %q is not an https URL without a path", endpoint)
	}
	if cred == nil {
		return nil, errors.New("graph credential is nil")
	}
	endpoint = u.Scheme + "://" + u.Host

	var o azcore.ClientOptions
	if options != nil {
		o = options.ClientOptions
	}
	if o.Retry.StatusCodes == nil {
		o.Retry.StatusCodes = slices.Clone(defaultRetryStatusCodes)
	}
	o.Logging.IncludeBody = false

	authPolicy := runtime.NewBearerTokenPolicy(cred, []string{endpoint + "/.default"}, nil)
	internal, err := azcore.NewClient(moduleName, moduleVersion, runtime.PipelineOptions{
		AllowedHeaders: []string{headerClientRequestID, "x-ms-ags-diagnostic"},
		PerRetry:       []policy.Policy{authPolicy},
		Tracing:        runtime.TracingOptions{Namespace: "Microsoft.Graph"},
	}, &o)
	if err != nil {
		return nil, err
	}
	return &Client{endpoint: endpoint, internal: internal}, nil
}

// newRequest builds a request for {endpoint}/{apiVersion}{path} carrying the
// headers every Graph call sends, among them a new client-request-id. The
// retry policy clones the request, so every try sends the same ID. path must
// already hold escaped parameters (see pathParam).
func (c *Client) newRequest(ctx context.Context, method, apiVersion, path string) (*policy.Request, string, error) {
	if apiVersion != APIVersionV1 && apiVersion != APIVersionBeta {
		return nil, "", argumentError("graph API version %q is not %q or %q", apiVersion, APIVersionV1, APIVersionBeta)
	}
	req, err := runtime.NewRequest(ctx, method, runtime.JoinPaths(c.endpoint, apiVersion, path))
	if err != nil {
		return nil, "", err
	}
	id := newUUID()
	req.Raw().Header.Set("Accept", "application/json")
	req.Raw().Header.Set(headerClientRequestID, id)
	return req, id, nil
}

// RequestIDs correlate one call with Graph's logs; support asks for them.
type RequestIDs struct {
	// RequestID is Graph's request-id response header.
	RequestID string
	// ClientRequestID is the client-request-id this client sent (the same on
	// every retry), or the one Graph answered with.
	ClientRequestID string
}

// send runs req through the pipeline and checks that Graph answered one of
// the ok statuses. Any other answer becomes a *ResponseError, whose texts are
// scrubbed of every value of the invocation: those in the request's context
// (secret.WithScrubber) and sent, the values this request carries. Every
// operation passes through here, so none can answer unscrubbed. On every
// error the IDs still hold the client-request-id sent, so the attempt can be
// traced.
func (c *Client) send(req *policy.Request, operation, sentID string, sent []Secret, ok ...int) (*http.Response, RequestIDs, error) {
	ids := RequestIDs{ClientRequestID: sentID}
	resp, err := c.internal.Pipeline().Do(req)
	if err != nil {
		// A refused redirect names the host Graph's Location pointed to:
		// Graph's text, which could quote what was sent.
		if r, ok := errors.AsType[*transport.RedirectError](err); ok {
			r.To = scrubberFor(req.Raw().Context(), sent).Scrub(r.To)
		}
		return nil, ids, err
	}
	if !runtime.HasStatusCode(resp, ok...) {
		return nil, ids, newResponseError(operation, resp, sentID, scrubberFor(req.Raw().Context(), sent))
	}
	ids.RequestID = resp.Header.Get(headerRequestID)
	ids.ClientRequestID = cmp.Or(resp.Header.Get(headerClientRequestID), sentID)
	return resp, ids, nil
}

// scrubberFor returns the invocation's scrubber from ctx, or a new one when
// ctx carries none, knowing sent as well.
func scrubberFor(ctx context.Context, sent []Secret) *secret.Scrubber {
	s := secret.ScrubberFrom(ctx)
	if s == nil {
		s = secret.NewScrubber()
	}
	for _, sec := range sent {
		s.Add(sec.Value)
	}
	return s
}

// setJSONBody encodes v as the request body, without HTML escaping (Graph
// stores values byte for byte) and without a trailing newline.
func setJSONBody(req *policy.Request, v any) error {
	body, err := marshalJSON(v)
	if err != nil {
		return err
	}
	return req.SetBody(streaming.NopCloser(bytes.NewReader(body)), "application/json")
}

// marshalJSON encodes v as compact JSON without HTML escaping.
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// pathParam returns value escaped for use as one path segment. It refuses
// empty values and the dot segments, which url.PathEscape leaves as they are.
func pathParam(name, value string) (string, error) {
	switch value {
	case "":
		return "", argumentError("parameter %s cannot be empty", name)
	case ".", "..":
		return "", argumentError("parameter %s cannot be %q", name, value)
	}
	return url.PathEscape(value), nil
}

// ArgumentError reports a call the client refused to make because an
// argument cannot be sent as it is: an empty or dot path parameter, an
// unknown API version, an empty secret set. Nothing was sent, and sending the
// same arguments again fails the same way. Its message names the argument
// and never holds a secret value.
type ArgumentError struct {
	msg string
}

func (e *ArgumentError) Error() string { return e.msg }

func argumentError(format string, args ...any) error {
	return &ArgumentError{msg: fmt.Sprintf(format, args...)}
}

// newUUID returns a random (version 4) UUID, as Graph expects in
// client-request-id.
func newUUID() string {
	var u [16]byte
	_, _ = rand.Read(u[:]) // never fails (crypto/rand, Go 1.24+)
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	var t [36]byte
	hex.Encode(t[0:8], u[0:4])
	t[8] = '-'
	hex.Encode(t[9:13], u[4:6])
	t[13] = '-'
	hex.Encode(t[14:18], u[6:8])
	t[18] = '-'
	hex.Encode(t[19:23], u[8:10])
	t[23] = '-'
	hex.Encode(t[24:36], u[10:16])
	return string(t[:])
}
