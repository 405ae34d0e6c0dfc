// Command demo runs putsecrets' main job end to end on the local stand-ins,
// with no Azure account: it starts a fake Azure (managed identity endpoint,
// Key Vault and Microsoft Graph over TLS, reached through HTTPS_PROXY), starts
// the real handler binary behind an emulated Functions host, sends one HTTP
// invocation and one Service Bus invocation, and prints each request, each
// answer, and the PUT Graph received with the secret values masked. Then it
// follows Key Vault (Azurite keeps the desired state, the test broker carries
// the events): a followed save, a new secret version, its event, the
// re-applied PUT and an expiry warning.
//
//	go build -o bin/handler . && go run ./standin/cmd/demo -handler bin/handler -app .
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/putsecrets/putsecrets/internal/config"
	"github.com/putsecrets/putsecrets/internal/servicebus"
	"github.com/putsecrets/putsecrets/standin/azure"
	"github.com/putsecrets/putsecrets/standin/graph"
	"github.com/putsecrets/putsecrets/standin/host"
	"github.com/putsecrets/putsecrets/standin/sbbroker"
)

const (
	spID      = "6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c"
	vaultHost = "contoso-kv.vault.azure.net"
)

func main() {
	handler := flag.String("handler", "bin/handler", "the handler binary")
	app := flag.String("app", ".", "the function app root (host.json and the function folders)")
	flag.Parse()
	if err := run(*handler, *app, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		os.Exit(1)
	}
}

func run(handler, app string, out io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p := printer{out}

	env, err := azure.New("", azure.WithStorage())
	if err != nil {
		return err
	}
	defer env.Close()
	broker, err := sbbroker.StartProcess(ctx)
	if err != nil {
		return err
	}
	defer broker.Close()
	for _, q := range []string{requestQueue, eventsQueue, resultsQueue} {
		broker.CreateQueue(q, sbbroker.QueueOptions{})
	}
	sb, err := servicebus.New(config.ServiceBus{ConnectionString: broker.ConnectionString()}, nil, nil)
	if err != nil {
		return err
	}
	defer sb.Close(context.Background())

	// The vault holds the credentials; the caller only ever names them.
	values := []string{randomValue("scim-token"), randomValue("pw")}
	env.KeyVault.SetSecret(vaultHost, "scim-token", values[0])
	env.KeyVault.SetSecret(vaultHost, "svc-password", values[1])
	env.Graph.AddServicePrincipal(spID)

	p.section("Local stand-ins")
	p.line("managed identity endpoint  %s", env.Identity.Endpoint())
	p.line("Key Vault                  https://%s (TLS, 401 challenge) via %s", vaultHost, env.Proxy.URL())
	p.line("Microsoft Graph            https://graph.microsoft.com (TLS) via %s", env.Proxy.URL())
	p.line("vault secrets              scim-token, svc-password (values never leave the fake Azure except to Graph)")
	p.line("kept desired states        %s (Azurite)", env.StateURL)
	p.line("Service Bus                the test broker, queues %s, %s, %s", requestQueue, eventsQueue, resultsQueue)

	binary, err := filepath.Abs(handler)
	if err != nil {
		return err
	}
	var logs bytes.Buffer
	h, err := host.Start(ctx, host.Options{
		Binary: binary, Dir: app, Stdout: &logs,
		Env: append(env.HandlerEnv(), "PUTSECRETS_ALLOWED_VAULTS=contoso-kv", "PUTSECRETS_QUEUE="+requestQueue,
			"PUTSECRETS_EVENTS_QUEUE="+eventsQueue, "PUTSECRETS_RESULTS_QUEUE="+resultsQueue,
			"ServiceBusConnection="+broker.ConnectionString()),
	})
	if err != nil {
		return fmt.Errorf("start the handler: %w", err)
	}
	p.line("handler                    %s, ready on %s", handler, h.URL())

	// 1. HTTP, as a Logic App or a script calls it.
	httpDoc := `{
  "servicePrincipalId": "` + spID + `",
  "secrets": [
    { "key": "BaseAddress", "value": "https://scim.example.com/scim/v2" },
    { "key": "SecretToken", "secretUri": "https://contoso-kv.vault.azure.net/secrets/scim-token" },
    { "key": "SyncNotificationSettings", "value": { "Enabled": true, "Recipients": "ops@example.com", "DeleteThresholdEnabled": true, "DeleteThresholdValue": 50 } }
  ]
}`
	p.section("1. HTTP: POST /api/PutSecrets")
	p.block("request", httpDoc)
	res, err := h.InvokeHTTP(ctx, "PutSecrets", host.HTTPRequest{
		Headers: map[string]string{"Content-Type": "application/json"}, Body: []byte(httpDoc)})
	if err != nil {
		return err
	}
	p.block(fmt.Sprintf("answer %d %s", res.CallerStatus, res.CallerHeaders.Get("Content-Type")), indent(res.CallerBody))
	if res.CallerStatus != 200 {
		return fmt.Errorf("the HTTP invocation answered %d", res.CallerStatus)
	}
	if err := p.graphPut(env, 0); err != nil {
		return err
	}

	// 2. Service Bus, as a provisioning pipeline sends it.
	sbDoc := `{"servicePrincipalId":"` + spID + `","secrets":[` +
		`{"key":"BaseAddress","value":"https://scim.example.com/scim/v2"},` +
		`{"key":"SecretToken","secretUri":"https://contoso-kv.vault.azure.net/secrets/scim-token"},` +
		`{"key":"Password","value":"@Microsoft.KeyVault(VaultName=contoso-kv;SecretName=svc-password)"},` +
		`{"key":"SyncAll","value":false}]}`
	p.section("2. Service Bus: a message on putsecrets-requests triggers PutSecretsFromQueue")
	p.block("message body (MessageId rotate-2024-05-14, CorrelationId pipeline-run-42)", indent([]byte(sbDoc)))
	sbRes, err := h.InvokeServiceBus(ctx, "PutSecretsFromQueue", host.Message{
		Body: []byte(sbDoc), MessageID: "rotate-2024-05-14", CorrelationID: "pipeline-run-42"})
	if err != nil {
		return err
	}
	verdict := "the invocation succeeded: the host completes the message"
	if sbRes.Failed {
		verdict = "the invocation FAILED (" + sbRes.Reason + "): the host abandons the message"
	}
	p.block(fmt.Sprintf("answer %d to the host", sbRes.HandlerStatus), indent(sbRes.Raw)+"\n→ "+verdict)
	if sbRes.Failed {
		return errors.New("the Service Bus invocation failed")
	}
	if err := p.graphPut(env, 1); err != nil {
		return err
	}

	// 3. What a refusal looks like: a vault that is not allowed, refused
	// before any call leaves the handler.
	badDoc := `{"servicePrincipalId":"` + spID + `","secrets":[{"key":"SecretToken","secretUri":"https://evil-kv.vault.azure.net/secrets/stolen"}]}`
	p.section("3. A refusal: a vault outside PUTSECRETS_ALLOWED_VAULTS")
	p.block("request", indent([]byte(badDoc)))
	bad, err := h.InvokeHTTP(ctx, "PutSecrets", host.HTTPRequest{
		Headers: map[string]string{"Content-Type": "application/json"}, Body: []byte(badDoc)})
	if err != nil {
		return err
	}
	p.block(fmt.Sprintf("answer %d %s", bad.CallerStatus, bad.CallerHeaders.Get("Content-Type")), indent(bad.CallerBody))
	p.line("Graph requests after the refusal: still %d (nothing was sent)", len(puts(env)))

	rotated, err := followDemo(ctx, p, env, h, sb)
	if err != nil {
		return err
	}
	values = append(values, rotated...)

	if err := h.Stop(ctx); err != nil {
		return err
	}
	p.section("Handler log (JSON lines on stdout, one per invocation outcome)")
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		p.line("%s", l)
	}
	// Check what the demo claims: the vault's values reached Graph and
	// appear in no answer and no log line.
	seen := logs.String() + h.Stderr() + string(res.Raw) + string(sbRes.Raw) + string(bad.Raw)
	for i, v := range values {
		if strings.Contains(seen, v) {
			return fmt.Errorf("vault secret %d appeared in an answer or a log line", i+1)
		}
	}
	for i, v := range values[:2] {
		if !strings.Contains(string(puts(env)[1].Body), v) {
			return fmt.Errorf("vault secret %d did not reach Graph", i+1)
		}
	}
	p.section("Done")
	p.line("Every invocation succeeded and Graph received the secrets, the rotated one without a pipeline;")
	p.line("checked: no vault value appears in any answer or log line.")
	return nil
}

func puts(env *azure.Env) []graph.Call {
	var out []graph.Call
	for _, c := range env.Graph.Calls() {
		if c.Method == "PUT" {
			out = append(out, c)
		}
	}
	return out
}

// randomValue makes a value that looks like a credential and is new each run.
func randomValue(prefix string) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

type printer struct{ w io.Writer }

func (p printer) section(title string) { fmt.Fprintf(p.w, "\n== %s\n", title) }
func (p printer) line(format string, args ...any) {
	fmt.Fprintf(p.w, "   "+format+"\n", args...)
}
func (p printer) block(title, body string) {
	fmt.Fprintf(p.w, "-- %s\n", title)
	for _, l := range strings.Split(body, "\n") {
		fmt.Fprintf(p.w, "   %s\n", l)
	}
}

// graphPut prints the i-th PUT Graph received, values masked.
func (p printer) graphPut(env *azure.Env, i int) error {
	ps := puts(env)
	if len(ps) <= i {
		return fmt.Errorf("graph received %d PUTs, want %d", len(ps), i+1)
	}
	c := ps[i]
	var body struct {
		Value []graph.KeyValue `json:"value"`
	}
	if err := json.Unmarshal(c.Body, &body); err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "PUT https://%s%s -> %d\n", c.Host, c.Path, c.Status)
	fmt.Fprintf(&b, "Authorization: Bearer <token for %s from the managed identity>\n", c.Resource)
	fmt.Fprintf(&b, "Content-Type: %s\n", c.ContentType)
	fmt.Fprintf(&b, "{\"value\": [\n")
	for j, kv := range body.Value {
		comma := ","
		if j == len(body.Value)-1 {
			comma = ""
		}
		fmt.Fprintf(&b, "  {\"key\": %q, \"value\": %q}%s\n", kv.Key, mask(kv.Value), comma)
	}
	b.WriteString("]}")
	p.block("what Microsoft Graph received (values masked)", b.String())
	return nil
}

// mask shows a value's shape, never the value.
func mask(v string) string {
	return fmt.Sprintf("%s (%d chars)", strings.Repeat("•", min(len(v), 8)), len(v))
}

func indent(b []byte) string {
	var out bytes.Buffer
	if json.Indent(&out, b, "", "  ") != nil {
		return string(b)
	}
	return out.String()
}
