package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/putsecrets/putsecrets/internal/server"
	"github.com/putsecrets/putsecrets/internal/settle"
	"github.com/putsecrets/putsecrets/standin/azure"
)

// standinsEnv, set to "1", makes the test binary the stand-ins' process for
// BenchmarkInvocationPath (see TestMain): it starts a fake Azure, prints a
// standinsReady line and runs until its stdin closes.
const standinsEnv = "PUTSECRETS_BENCH_STANDINS"

// benchVault is the vault the benchmark's references name.
const benchVault = "contoso-kv"

// benchRefKeys are the keys of the benchmark's three references.
var benchRefKeys = []string{"SecretToken", "Password", "ClientSecret"}

// standinsReady is what the stand-ins' process tells the benchmark.
type standinsReady struct {
	Env                []string `json:"env"`
	ServicePrincipalID string   `json:"servicePrincipalId"`
}

// runStandins is the stand-ins' process: a fake Azure over TLS with the
// benchmark's secrets and service principal.
func runStandins() int {
	env, err := azure.New("")
	if err != nil {
		fmt.Fprintf(os.Stderr, "stand-ins: %v\n", err)
		return 1
	}
	defer func() { _ = env.Close() }()
	for i := range benchRefKeys {
		env.KeyVault.SetSecret(benchVault+".vault.azure.net", fmt.Sprintf("bench-%d", i), strings.Repeat("v", 48))
	}
	const sp = "6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c"
	env.Graph.AddServicePrincipal(sp)
	if err := json.NewEncoder(os.Stdout).Encode(standinsReady{Env: env.HandlerEnv(), ServicePrincipalID: sp}); err != nil {
		fmt.Fprintf(os.Stderr, "stand-ins: %v\n", err)
		return 1
	}
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}

// standins is the stand-ins' process, started once per test binary: Go
// reads the proxy and roots from the environment once, so every run of the
// benchmark (-count) must reach the same stand-ins. The process ends when
// its stdin closes, at the latest when this process exits.
var standins struct {
	once  sync.Once
	ready standinsReady
	stdin io.WriteCloser // held: closing it, or collecting it, ends the process
	err   error
}

// startStandins starts the stand-ins in a child process, so that the
// benchmark's allocations are the handler's alone.
func startStandins(b *testing.B) standinsReady {
	b.Helper()
	standins.once.Do(func() { standins.ready, standins.err = spawnStandins() })
	if standins.err != nil {
		b.Fatalf("stand-ins did not start: %v", standins.err)
	}
	return standins.ready
}

func spawnStandins() (standinsReady, error) {
	var ready standinsReady
	exe, err := os.Executable()
	if err != nil {
		return ready, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), standinsEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return ready, err
	}
	standins.stdin = stdin
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return ready, err
	}
	if err := cmd.Start(); err != nil {
		return ready, err
	}
	line, err := bufio.NewReader(stdout).ReadBytes('\n')
	if err == nil {
		err = json.Unmarshal(line, &ready)
	}
	return ready, err
}

// BenchmarkInvocationPath is one whole invocation in-process, as serve wires
// it: the real server, provision service, Key Vault resolver and Graph
// client, reading three references from the Key Vault stand-in and PUTting
// them to the Graph stand-in over TLS (both in a child process, through the
// stand-ins' proxy, as a handler process reaches them), with the log line
// written as JSON to io.Discard. B/op and allocs/op are the handler's.
//
// Run it alone (go test -run '^$' -bench InvocationPath .): the process's
// proxy and roots come from the environment, which Go reads once.
func BenchmarkInvocationPath(b *testing.B) {
	ready := startStandins(b)
	settings := map[string]string{"PUTSECRETS_ALLOWED_VAULTS": benchVault}
	for _, kv := range ready.Env {
		k, v, _ := strings.Cut(kv, "=")
		settings[k] = v
		b.Setenv(k, v)
	}
	vaultURL := "https://" + benchVault + ".vault.azure.net"
	if p, err := http.ProxyFromEnvironment(&http.Request{URL: &url.URL{Scheme: "https", Host: benchVault + ".vault.azure.net"}}); err != nil || p == nil || p.String() != settings["HTTPS_PROXY"] {
		b.Fatalf("this process's proxy for %s is %v, not the stand-ins' (Go reads the environment once): run the benchmark alone, with -run '^$'", vaultURL, p)
	}
	getenv := func(k string) string { return settings[k] }
	w, err := loadWiring(getenv, io.Discard, false)
	if err != nil {
		b.Fatal(err)
	}
	svc, err := w.service()
	if err != nil {
		b.Fatal(err)
	}
	h := server.New(server.Options{
		Logger: w.log, Service: svc, InvocationTimeout: time.Minute,
		Queue: settle.NewProcessor(svc, settle.Options{}),
	})

	var doc strings.Builder
	fmt.Fprintf(&doc, `{"servicePrincipalId":%q,"secrets":[`, ready.ServicePrincipalID)
	for i, k := range benchRefKeys {
		if i > 0 {
			doc.WriteByte(',')
		}
		fmt.Fprintf(&doc, `{"key":%q,"secretUri":"%s/secrets/bench-%d"}`, k, vaultURL, i)
	}
	doc.WriteString("]}")
	body, _ := json.Marshal(doc.String())
	envelope := []byte(`{"Data":{"req":{"Url":"https://contoso-fn.azurewebsites.net/api/PutSecrets","Method":"POST","Query":{},` +
		`"Headers":{"Content-Type":["application/json"],"Content-Length":["` + fmt.Sprint(doc.Len()) + `"],"Host":["contoso-fn.azurewebsites.net"]},` +
		`"Params":{},"Identities":[],"Body":` + string(body) + `}},` +
		`"Metadata":{"Query":{},"Headers":{"Content-Type":"application/json"},"sys":{"MethodName":"PutSecrets",` +
		`"UtcNow":"2024-05-14T09:40:12.0847731Z","RandGuid":"c2b8e0d4-7a61-4f3e-9b25-18d6e4a0f7c3"}}}`)

	invoke := func() {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, "http://127.0.0.1/"+server.FunctionHTTP, bytes.NewReader(envelope))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || !bytes.Contains(rec.Body.Bytes(), []byte(`"statusCode":200,`)) ||
			!bytes.Contains(rec.Body.Bytes(), []byte(`\"status\":\"saved\"`)) {
			b.Fatalf("answer %d: %s", rec.Code, rec.Body)
		}
	}
	for range 20 { // the first token, challenge and connections
		invoke()
	}
	b.ReportAllocs()
	for b.Loop() {
		invoke()
	}
}
