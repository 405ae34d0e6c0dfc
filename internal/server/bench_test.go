package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/putsecrets/putsecrets/internal/provision"
	"github.com/putsecrets/putsecrets/internal/settle"
)

// stubPutter answers every document with a fixed success, so that the
// benchmarks measure the handler's own work per invocation: read and decode
// the envelope, log one line, encode the answer.
type stubPutter struct{}

func (stubPutter) Put(context.Context, []byte) (*provision.Result, error) {
	return &provision.Result{
		ServicePrincipalID: "6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c", Status: provision.StatusSaved, APIVersion: "v1.0",
		Keys: []string{"SecretToken", "Password", "ClientSecret"}, GraphRequestID: "0c8d1f36-1d7b-4d6e-9a1e-2f2b7c3a9d10",
	}, nil
}

// benchDocument is a request document with three Key Vault references.
const benchDocument = `{"servicePrincipalId":"6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c","secrets":[` +
	`{"key":"SecretToken","secretUri":"https://contoso-kv.vault.azure.net/secrets/bench-0"},` +
	`{"key":"Password","secretUri":"https://contoso-kv.vault.azure.net/secrets/bench-1"},` +
	`{"key":"ClientSecret","secretUri":"https://contoso-kv.vault.azure.net/secrets/bench-2"}]}`

// benchEnvelopes are the envelopes the host sends for benchDocument, in the
// shape of internal/envelope/testdata/host (HTTP with Content-Length;
// Service Bus double-encoded, with the body's fields promoted to Metadata).
func benchEnvelopes(b *testing.B) (httpEnv, sbEnv []byte) {
	b.Helper()
	once, _ := json.Marshal(benchDocument)
	twice, _ := json.Marshal(string(once))
	httpEnv = []byte(`{"Data":{"req":{"Url":"https://contoso-fn.azurewebsites.net/api/PutSecrets","Method":"POST","Query":{},` +
		`"Headers":{"Content-Type":["application/json"],"Content-Length":["351"],"Host":["contoso-fn.azurewebsites.net"]},` +
		`"Params":{},"Identities":[],"Body":` + string(once) + `}},` +
		`"Metadata":{"Query":{},"Headers":{"Content-Type":"application/json"},"sys":{"MethodName":"PutSecrets",` +
		`"UtcNow":"2024-05-14T09:40:12.0847731Z","RandGuid":"c2b8e0d4-7a61-4f3e-9b25-18d6e4a0f7c3"}}}`)
	sbEnv = []byte(`{"Data":{"message":` + string(twice) + `},"Metadata":{"MessageReceiver":{},"MessageSession":{},` +
		`"Client":{"FullyQualifiedNamespace":"contoso-sb.servicebus.windows.net","IsClosed":false,"TransportType":0},` +
		`"DeliveryCount":"1","LockToken":"\"3b4c1f2e-8a9d-4e6f-b1c2-0d9e8f7a6b5c\"","EnqueuedTimeUtc":"2024-05-14T09:31:07",` +
		`"MessageId":"\"rotate-1\"","ContentType":"\"application/json\"","SequenceNumber":"17","CorrelationId":"\"run-42\"",` +
		`"ApplicationProperties":{},"UserProperties":{},"servicePrincipalId":"\"6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c\"",` +
		`"secrets":"[]","sys":{"MethodName":"PutSecretsFromQueue","UtcNow":"2024-05-14T09:31:07.9160453Z",` +
		`"RandGuid":"6f1c9a52-93b4-4c0e-a1d7-2b8e5f4c3a19"}}}`)
	return httpEnv, sbEnv
}

// BenchmarkInvocation is the handler's own work for one invocation of each
// function, with the service stubbed out and the log line written as JSON
// to io.Discard.
func BenchmarkInvocation(b *testing.B) {
	httpEnv, sbEnv := benchEnvelopes(b)
	h := New(Options{
		Logger:            slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Service:           stubPutter{},
		Queue:             settle.NewProcessor(stubPutter{}, settle.Options{}),
		InvocationTimeout: time.Minute,
	})
	for _, bc := range []struct {
		name, path string
		env        []byte
	}{
		{"HTTP", "/" + FunctionHTTP, httpEnv},
		{"ServiceBus", "/" + FunctionQueue, sbEnv},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, bc.path, bytes.NewReader(bc.env))
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("answer %d: %s", rec.Code, rec.Body)
				}
			}
		})
	}
}
