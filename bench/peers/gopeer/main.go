// Command gopeer is the job putsecrets does, written the way a Go developer
// would write it quickly, plainly and honestly: a custom handler that takes
// the request document, reads its Key Vault references with azsecrets and
// PUTs the secrets to Graph through an azcore pipeline, with the same SDK
// and one transport tuned like the handler's. `make bench` runs it behind the
// same host emulator and stand-ins as the handler and compares the two.
//
// What it skips, which the handler does (BENCHMARKS.md lists it too): strict
// parsing (unknown and repeated fields, sizes, key names, GUIDs), the vault
// and service-principal allow-lists, literal-credential refusal, scrubbing of
// dependency messages, the replication wait, validateCredentials and the job
// follow-up, problem documents and outcome messages, per-invocation log lines
// and time limits. A failure is a bare 500 or 502.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime/metrics"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
)

type secretEntry struct {
	Key       string          `json:"key"`
	Value     json.RawMessage `json:"value,omitempty"`
	SecretURI string          `json:"secretUri,omitempty"`
}

type document struct {
	ServicePrincipalID string        `json:"servicePrincipalId"`
	Secrets            []secretEntry `json:"secrets"`
}

type app struct {
	cred    azcore.TokenCredential
	opts    azcore.ClientOptions
	graph   runtime.Pipeline
	mu      sync.Mutex
	clients map[string]*azsecrets.Client
}

func main() {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns, t.MaxIdleConnsPerHost = 512, 256
	opts := azcore.ClientOptions{Transport: &http.Client{Transport: t}}
	cred, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{ClientOptions: opts})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	a := &app{cred: cred, opts: opts, clients: map[string]*azsecrets.Client{}}
	a.graph = runtime.NewPipeline("gopeer", "v1", runtime.PipelineOptions{
		PerRetry: []policy.Policy{runtime.NewBearerTokenPolicy(cred, []string{"https://graph.microsoft.com/.default"}, nil)},
	}, &opts)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("POST /PutSecrets", a.handleHTTP)
	mux.HandleFunc("POST /PutSecretsFromQueue", a.handleQueue)
	if os.Getenv("PUTSECRETS_DEBUG_ENDPOINTS") == "true" {
		// Measurement only: make bench reads the heap allocation counters
		// the handler's debug endpoint reports, to compare bytes per invocation.
		mux.HandleFunc("GET /debug/goroutines", func(w http.ResponseWriter, r *http.Request) {
			s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}, {Name: "/gc/heap/allocs:objects"}}
			metrics.Read(s)
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]uint64{"heapAllocBytes": s[0].Value.Uint64(), "heapAllocObjects": s[1].Value.Uint64()})
		})
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+os.Getenv("FUNCTIONS_CUSTOMHANDLER_PORT"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Fprintln(os.Stderr, http.Serve(ln, mux))
	os.Exit(1)
}

func (a *app) handleHTTP(w http.ResponseWriter, r *http.Request) {
	var env struct {
		Data struct {
			Req struct {
				Body string `json:"Body"`
			} `json:"req"`
		} `json:"Data"`
	}
	if err := json.NewDecoder(r.Body).Decode(&env); err != nil {
		http.Error(w, "bad envelope", http.StatusBadRequest)
		return
	}
	status := http.StatusOK
	body := `{"status":"saved"}`
	if err := a.put(r.Context(), []byte(env.Data.Req.Body)); err != nil {
		status, body = http.StatusBadGateway, `{"error":"failed"}`
	}
	answer(w, http.StatusOK, map[string]any{"res": map[string]any{
		"statusCode": status, "headers": map[string]string{"Content-Type": "application/json"}, "body": body,
	}})
}

func (a *app) handleQueue(w http.ResponseWriter, r *http.Request) {
	var env struct {
		Data struct {
			Message json.RawMessage `json:"message"`
		} `json:"Data"`
	}
	if err := json.NewDecoder(r.Body).Decode(&env); err != nil {
		http.Error(w, "bad envelope", http.StatusBadRequest)
		return
	}
	// The host sends a JSON body as a JSON string (sometimes of a JSON string).
	msg := env.Data.Message
	for len(msg) > 0 && msg[0] == '"' {
		var s string
		if err := json.Unmarshal(msg, &s); err != nil {
			break
		}
		msg = []byte(s)
	}
	if err := a.put(r.Context(), msg); err != nil {
		answer(w, http.StatusInternalServerError, map[string]any{})
		return
	}
	answer(w, http.StatusOK, map[string]any{})
}

func answer(w http.ResponseWriter, status int, outputs map[string]any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"Outputs": outputs, "Logs": []string{}, "ReturnValue": nil})
}

// put reads the references (in parallel) and PUTs the secrets.
func (a *app) put(ctx context.Context, body []byte) error {
	var doc document
	if err := json.Unmarshal(body, &doc); err != nil {
		return err
	}
	type pair struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	}
	pairs := make([]pair, len(doc.Secrets))
	errs := make([]error, len(doc.Secrets))
	var wg sync.WaitGroup
	for i, s := range doc.Secrets {
		pairs[i].Key = s.Key
		if s.SecretURI == "" {
			var v string
			if json.Unmarshal(s.Value, &v) != nil {
				v = string(s.Value)
			}
			pairs[i].Value = v
			continue
		}
		wg.Go(func() {
			pairs[i].Value, errs[i] = a.read(ctx, s.SecretURI)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	payload, err := json.Marshal(map[string]any{"value": pairs})
	if err != nil {
		return err
	}
	req, err := runtime.NewRequest(ctx, http.MethodPut,
		"https://graph.microsoft.com/v1.0/servicePrincipals/"+doc.ServicePrincipalID+"/synchronization/secrets")
	if err != nil {
		return err
	}
	if err := req.SetBody(streaming.NopCloser(bytes.NewReader(payload)), "application/json"); err != nil {
		return err
	}
	resp, err := a.graph.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if !runtime.HasStatusCode(resp, http.StatusNoContent, http.StatusOK) {
		return runtime.NewResponseError(resp)
	}
	return nil
}

// read gets one secret: https://{vault}/secrets/{name}[/{version}].
func (a *app) read(ctx context.Context, uri string) (string, error) {
	rest, ok := strings.CutPrefix(uri, "https://")
	if !ok {
		return "", fmt.Errorf("not https: %s", uri)
	}
	host, path, _ := strings.Cut(rest, "/")
	parts := strings.Split(strings.TrimPrefix(path, "secrets/"), "/")
	name, version := parts[0], ""
	if len(parts) > 1 {
		version = parts[1]
	}
	c, err := a.client("https://" + host)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	resp, err := c.GetSecret(ctx, name, version, nil)
	if err != nil {
		return "", err
	}
	if resp.Value == nil {
		return "", fmt.Errorf("secret %s has no value", name)
	}
	return *resp.Value, nil
}

func (a *app) client(vaultURL string) (*azsecrets.Client, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if c, ok := a.clients[vaultURL]; ok {
		return c, nil
	}
	c, err := azsecrets.NewClient(vaultURL, a.cred, &azsecrets.ClientOptions{ClientOptions: a.opts})
	if err != nil {
		return nil, err
	}
	a.clients[vaultURL] = c
	return c, nil
}
