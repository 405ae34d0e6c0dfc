package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/putsecrets/putsecrets/standin/azure"
	"github.com/putsecrets/putsecrets/standin/graph"
	"github.com/putsecrets/putsecrets/standin/host"
	"github.com/putsecrets/putsecrets/standin/keyvault"
)

// The OpenAPI documents of the PutSecrets function: the 3.0 one is written
// by hand; the Swagger 2.0 one (what Logic Apps custom connectors import) is
// converted from it and checked in.
var (
	openAPIPath   = filepath.Join("..", "docs", "openapi.yaml")
	swaggerPath   = filepath.Join("..", "docs", "openapi.swagger.json")
	updateSwagger = flag.Bool("update-swagger", false, "rewrite docs/openapi.swagger.json from docs/openapi.yaml")
)

// apiURL is the public URL the tests call, with the function key as Azure
// takes it in the query.
const apiURL = "https://putsecrets.azurewebsites.net/api/PutSecrets?code=function-key"

// apiDoc is one loaded, valid OpenAPI document and its router.
type apiDoc struct {
	name   string
	router routers.Router
	// strict: the document states every rule of the request (the 3.0 one;
	// Swagger 2.0 has no oneOf for the exactly-one rules).
	strict bool
}

func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(openAPIPath)
	if err != nil {
		t.Fatalf("load %s: %v", openAPIPath, err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("%s is not a valid OpenAPI 3 document: %v", openAPIPath, err)
	}
	return doc
}

func newAPIDoc(t *testing.T, name string, doc *openapi3.T, strict bool) apiDoc {
	t.Helper()
	r, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatalf("%s: router: %v", name, err)
	}
	return apiDoc{name: name, router: r, strict: strict}
}

// swaggerFrom converts the 3.0 document to Swagger 2.0, as it is checked in.
// The converter leaves out what 2.0 cannot say as 3.0 does, and three things
// are put back by hand: the host (2.0 has no server variables: the app name
// is an example to replace), the problem+json answers (the converter keeps
// application/json content only) and their schemas. The exactly-one rules
// (oneOf) have no 2.0 form; the descriptions state them.
func swaggerFrom(t *testing.T, doc *openapi3.T) []byte {
	t.Helper()
	v2, err := openapi2conv.FromV3(doc)
	if err != nil {
		t.Fatalf("convert to Swagger 2.0: %v", err)
	}
	v2.Host, v2.BasePath, v2.Schemes = "putsecrets.azurewebsites.net", "/", []string{"https"}
	v2.Produces = []string{"application/json", "application/problem+json"}
	for name, r := range doc.Components.Responses {
		mt := r.Value.Content.Get("application/problem+json")
		if mt == nil || v2.Responses[name] == nil || v2.Responses[name].Schema != nil {
			continue
		}
		v2.Responses[name].Schema, _ = openapi2conv.FromV3SchemaRef(mt.Schema, doc.Components)
	}
	b, err := json.MarshalIndent(v2, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// TestSwaggerCopy: docs/openapi.swagger.json is the 3.0 document converted,
// so the two cannot drift (go test ./e2e -run TestSwaggerCopy -update-swagger
// rewrites it).
func TestSwaggerCopy(t *testing.T) {
	t.Parallel()
	want := swaggerFrom(t, loadOpenAPI(t))
	if *updateSwagger {
		if err := os.WriteFile(swaggerPath, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(swaggerPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is not %s converted to Swagger 2.0; run go test ./e2e -run TestSwaggerCopy -update-swagger", swaggerPath, openAPIPath)
	}
}

// openAPIDocs are the documents real answers are checked against: the 3.0
// document, and the checked-in Swagger 2.0 copy read back as 3.0 (what a
// Logic Apps connector would have understood).
func openAPIDocs(t *testing.T) []apiDoc {
	t.Helper()
	docs := []apiDoc{newAPIDoc(t, "openapi.yaml", loadOpenAPI(t), true)}
	b, err := os.ReadFile(swaggerPath)
	if err != nil {
		t.Fatal(err)
	}
	var v2 openapi2.T
	if err := json.Unmarshal(b, &v2); err != nil {
		t.Fatalf("%s: %v", swaggerPath, err)
	}
	v3, err := openapi2conv.ToV3(&v2)
	if err != nil {
		t.Fatalf("%s: back to 3.0: %v", swaggerPath, err)
	}
	if err := v3.Validate(context.Background()); err != nil {
		t.Fatalf("%s read back as 3.0 is not valid: %v", swaggerPath, err)
	}
	return append(docs, newAPIDoc(t, "openapi.swagger.json", v3, false))
}

// requireFunctionKey is the documents' security: the function key in the
// code query parameter or the x-functions-key header.
func requireFunctionKey(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	r := in.RequestValidationInput.Request
	switch in.SecurityScheme.In {
	case "query":
		if r.URL.Query().Get(in.SecurityScheme.Name) != "" {
			return nil
		}
	case "header":
		if r.Header.Get(in.SecurityScheme.Name) != "" {
			return nil
		}
	}
	return errors.New("no function key")
}

// validateRequest checks req, as sent to the host, against d.
func (d apiDoc) validateRequest(ctx context.Context, req host.HTTPRequest) (*openapi3filter.RequestValidationInput, error) {
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, req.URL, bytes.NewReader(req.Body))
	if err != nil {
		return nil, err
	}
	for k, v := range req.Headers {
		r.Header.Set(k, v)
	}
	route, params, err := d.router.FindRoute(r)
	if err != nil {
		return nil, err
	}
	in := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: requireFunctionKey, MultiError: true}}
	return in, openapi3filter.ValidateRequest(ctx, in)
}

// validateResponse checks the answer the caller got against d.
func (d apiDoc) validateResponse(ctx context.Context, in *openapi3filter.RequestValidationInput, status int, header http.Header, body []byte) error {
	return openapi3filter.ValidateResponse(ctx, &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: status, Header: header, Body: io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	})
}

// TestOpenAPIMatchesAnswers sends the real handler, behind the emulated
// host, a request for every answer of docs/contract.md §3 and checks each request
// and each answer against the OpenAPI document (and its Swagger 2.0 copy).
func TestOpenAPIMatchesAnswers(t *testing.T) {
	t.Parallel()
	docs := openAPIDocs(t)
	f := start(t, settings{
		"PUTSECRETS_ALLOWED_VAULTS":         vault + ",denied-kv",
		"PUTSECRETS_GRAPH_CONSISTENCY_WAIT": "0s",
	}, azure.WithStorage())
	f.env.Graph.AddJob(spID, graph.Job{ID: jobID, TemplateID: "scim", State: graph.JobState{Code: graph.StatusActive}})
	token := f.kvSecret("scim-token", "SecretToken")
	f.env.KeyVault.SetSecret(f.vaultHost("denied-kv"), "x", "irrelevant")
	f.env.KeyVault.SetDenied(f.vaultHost("denied-kv"), true)
	f.env.KeyVault.SetSecret(f.vaultHost(vault), "throttled", "irrelevant")
	f.env.KeyVault.Script(f.vaultHost(vault), "throttled", keyvault.Fault{Status: 429, RetryAfter: "1"})
	base := literal("BaseAddress", "https://scim.example.com/scim/v2")
	const otherSP = "0f1e2d3c-4b5a-4968-8776-655443322110" // not in Graph

	tests := []struct {
		name   string
		doc    any
		status int
		// rejected: the document itself says the request is invalid (the
		// handler must agree, with 400).
		rejected bool
	}{
		{name: "saved", status: 200, doc: doc(spID, uri("SecretToken", token), base)},
		{name: "saved, every field", status: 200, doc: map[string]any{
			"servicePrincipalId": spID, "secrets": []any{uri("secrettoken", token), base,
				literal("SyncNotificationSettings", map[string]any{"Enabled": true, "DeleteThresholdValue": 50}), literal("SyncAll", false)},
			"apiVersion": "Beta", "validate": map[string]any{"templateId": "scim"},
			"job": map[string]any{"id": jobID, "action": "restart", "resetScope": "Watermark, Escrows"},
		}},
		{name: "saved and followed", status: 200, doc: map[string]any{"servicePrincipalId": spID,
			"secrets": []any{uri("SecretToken", token), base}, "follow": true}},
		{name: "follow off", status: 200, doc: map[string]any{"servicePrincipalId": spID,
			"secrets": []any{uri("SecretToken", token), base}, "follow": false}},
		{name: "dry run", status: 200, doc: map[string]any{"servicePrincipalId": spID, "secrets": []any{uri("SecretToken", token)},
			"dryRun": true, "job": map[string]any{"id": jobID, "action": "start"}}},
		{name: "invalid: not a GUID", status: 400, rejected: true, doc: doc("nope", base)},
		{name: "invalid: unknown field", status: 400, rejected: true, doc: map[string]any{"servicePrincipalId": spID, "secrets": []any{base}, "dryrun": true}},
		{name: "invalid: both value and secretUri", status: 400, rejected: true,
			doc: doc(spID, map[string]any{"key": "SecretToken", "value": "x", "secretUri": token})},
		{name: "invalid: no secrets", status: 400, rejected: true, doc: doc(spID)},
		{name: "invalid: unknown key (the document cannot tell)", status: 400, doc: doc(spID, literal("NoSuchKey", "x"))},
		{name: "refused by policy", status: 403, doc: doc(spID, uri("SecretToken", "https://evil-kv."+f.cloud.vaultSuffix+"/secrets/x"))},
		{name: "service principal not found", status: 404, doc: doc(otherSP, base)},
		{name: "secret not found", status: 422, doc: doc(spID, uri("SecretToken", "https://"+f.vaultHost(vault)+"/secrets/missing"))},
		{name: "identity refused", status: 502, doc: doc(spID, uri("SecretToken", "https://"+f.vaultHost("denied-kv")+"/secrets/x"))},
		{name: "dependency unavailable", status: 503, doc: doc(spID, uri("SecretToken", "https://"+f.vaultHost(vault)+"/secrets/throttled"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := encode(t, tt.doc)
			res := f.http(body, func(r *host.HTTPRequest) { r.URL = apiURL })
			req := host.HTTPRequest{URL: apiURL, Headers: map[string]string{"Content-Type": "application/json"}, Body: body}
			if res.Failed || res.CallerStatus != tt.status {
				t.Fatalf("caller got %d (failed invocation: %v), want %d: %s", res.CallerStatus, res.Failed, tt.status, res.CallerBody)
			}
			for _, d := range docs {
				in, err := d.validateRequest(t.Context(), req)
				if (d.strict || !tt.rejected) && tt.rejected != (err != nil) {
					t.Errorf("%s: request validation error = %v, want rejected %v", d.name, err, tt.rejected)
				}
				if in == nil {
					continue
				}
				if err := d.validateResponse(t.Context(), in, res.CallerStatus, res.CallerHeaders, res.CallerBody); err != nil {
					t.Errorf("%s: the %d answer does not match the document: %v\n%s", d.name, res.CallerStatus, err, res.CallerBody)
				}
			}
		})
	}
}

// TestOpenAPIRefusesWrongAnswers: the document is strict enough to catch an
// answer that breaks the contract, so that TestOpenAPIMatchesAnswers can
// fail.
func TestOpenAPIRefusesWrongAnswers(t *testing.T) {
	t.Parallel()
	docs := openAPIDocs(t)
	okBody := `{"servicePrincipalId":"` + spID + `","status":"saved","apiVersion":"v1.0","keys":["SecretToken"],"validated":false,"durationMs":5}`
	problem := func(typ string, status int) string {
		return `{"type":"` + typ + `","title":"t","status":` + itoa(status) + `,"detail":"d"}`
	}
	jsonCT := http.Header{"Content-Type": {"application/json"}}
	problemCT := http.Header{"Content-Type": {"application/problem+json"}}
	tests := []struct {
		name   string
		status int
		header http.Header
		body   string
		ok     bool
		// strictOnly: Swagger 2.0 cannot say it (its produces list is
		// per operation, not per answer).
		strictOnly bool
	}{
		{"a good answer passes", 200, jsonCT, okBody, true, false},
		{"a good problem passes", 422, problemCT, problem("urn:putsecrets:problem:unprocessable-secret", 422), true, false},
		{"no keys", 200, jsonCT, strings.Replace(okBody, `"keys":["SecretToken"],`, "", 1), false, false},
		{"unknown status word", 200, jsonCT, strings.Replace(okBody, `"saved"`, `"stored"`, 1), false, false},
		{"a problem as application/json", 422, jsonCT, problem("urn:putsecrets:problem:unprocessable-secret", 422), false, true},
		{"the wrong problem type for the status", 422, problemCT, problem("urn:putsecrets:problem:invalid-request", 422), false, false},
		{"a problem type outside the contract", 400, problemCT, problem("about:blank", 400), false, false},
		{"a problem without detail", 403, problemCT, `{"type":"urn:putsecrets:problem:refused-by-policy","title":"t","status":403}`, false, false},
		{"a status the contract has not", 409, problemCT, problem("urn:putsecrets:problem:internal-error", 409), false, false},
	}
	req := host.HTTPRequest{URL: apiURL, Headers: map[string]string{"Content-Type": "application/json"},
		Body: []byte(`{"servicePrincipalId":"` + spID + `","secrets":[{"key":"BaseAddress","value":"https://scim.example.com"}]}`)}
	for _, d := range docs {
		in, err := d.validateRequest(t.Context(), req)
		if err != nil {
			t.Fatalf("%s: a valid request is refused: %v", d.name, err)
		}
		for _, tt := range tests {
			if tt.strictOnly && !d.strict {
				continue
			}
			err := d.validateResponse(t.Context(), in, tt.status, tt.header, []byte(tt.body))
			if tt.ok != (err == nil) {
				t.Errorf("%s: %s: validation error = %v, want ok %v", d.name, tt.name, err, tt.ok)
			}
		}
	}
	noKey := req
	noKey.URL = strings.TrimSuffix(apiURL, "?code=function-key")
	for _, d := range docs {
		if _, err := d.validateRequest(t.Context(), noKey); err == nil {
			t.Errorf("%s: a request without a function key passes", d.name)
		}
	}
	follow := req
	follow.Body = []byte(`{"servicePrincipalId":"` + spID + `","secrets":[{"key":"BaseAddress","value":"x"}],"follow":true}`)
	for _, d := range docs {
		if _, err := d.validateRequest(t.Context(), follow); err != nil {
			t.Errorf("%s: the follow field is refused: %v", d.name, err)
		}
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }
