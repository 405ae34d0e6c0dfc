package graph

import (
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/putsecrets/putsecrets/internal/secret"
)

// memoryGraph is a policy.Transporter that answers every request like
// Graph's PUT synchronization/secrets, without a network: 204 No Content.
type memoryGraph struct{}

func (memoryGraph) Do(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		_, _ = io.Copy(io.Discard, req.Body)
	}
	h := http.Header{"Request-Id": {"0c8d1f36-1d7b-4d6e-9a1e-2f2b7c3a9d10"}, "Client-Request-Id": req.Header["Client-Request-Id"]}
	return &http.Response{StatusCode: http.StatusNoContent, Header: h, Body: http.NoBody, Request: req}, nil
}

// benchSecrets are three secrets, as an invocation with three references PUTs.
func benchSecrets() []Secret {
	return []Secret{
		{Key: "SecretToken", Value: secret.New("vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv")},
		{Key: "Password", Value: secret.New("vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv")},
		{Key: "ClientSecret", Value: secret.New("vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv")},
	}
}

// BenchmarkPutFloor is the plainest azcore PUT of three secrets, as the Go
// peer (bench/peers/gopeer) sends it: a client with a bearer token policy,
// runtime.MarshalAsJSON, Pipeline().Do, no network. It is the floor of the
// SDK's work that PutSecrets pays.
func BenchmarkPutFloor(b *testing.B) {
	cred := &fakeCredential{}
	c, err := azcore.NewClient("floor", "v0.0.0", runtime.PipelineOptions{
		PerRetry: []policy.Policy{runtime.NewBearerTokenPolicy(cred, []string{"https://graph.microsoft.com/.default"}, nil)},
	}, &azcore.ClientOptions{Transport: memoryGraph{}})
	if err != nil {
		b.Fatal(err)
	}
	type kv struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	}
	var pairs []kv
	for _, s := range benchSecrets() {
		pairs = append(pairs, kv{s.Key, s.Value.Reveal()})
	}
	ctx := context.Background()
	put := func() {
		req, err := runtime.NewRequest(ctx, http.MethodPut, "https://graph.microsoft.com/v1.0/servicePrincipals/"+testSPID+"/synchronization/secrets")
		if err != nil {
			b.Fatal(err)
		}
		if err := runtime.MarshalAsJSON(req, map[string]any{"value": pairs}); err != nil {
			b.Fatal(err)
		}
		resp, err := c.Pipeline().Do(req)
		if err != nil || resp.StatusCode != http.StatusNoContent {
			b.Fatalf("PUT: %v", err)
		}
		_ = resp.Body.Close()
	}
	put()
	b.ReportAllocs()
	for b.Loop() {
		put()
	}
}

// BenchmarkPutSecrets is Client.PutSecrets of the same three secrets over
// the same transport: the floor plus the client's own work (request IDs,
// the scrubbed error path set up, the body encode).
func BenchmarkPutSecrets(b *testing.B) {
	c, err := NewClient("https://graph.microsoft.com", &fakeCredential{}, &ClientOptions{ClientOptions: azcore.ClientOptions{Transport: memoryGraph{}}})
	if err != nil {
		b.Fatal(err)
	}
	secrets := benchSecrets()
	ctx := context.Background()
	if _, err := c.PutSecrets(ctx, APIVersionV1, testSPID, secrets); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.PutSecrets(ctx, APIVersionV1, testSPID, secrets); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNewUUID is the client-request-id of every Graph request.
func BenchmarkNewUUID(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = newUUID()
	}
}
