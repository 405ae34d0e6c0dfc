package vault

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azlog "github.com/Azure/azure-sdk-for-go/sdk/azcore/log"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
	"github.com/google/go-cmp/cmp"

	"github.com/putsecrets/putsecrets/internal/cloud"
	"github.com/putsecrets/putsecrets/internal/secret"
	"github.com/putsecrets/putsecrets/standin/keyvault"
)

const (
	contoso     = "contoso-kv.vault.azure.net"
	contosoURL  = "https://" + contoso
	fabrikam    = "fabrikam-kv.vault.azure.net"
	fabrikamURL = "https://" + fabrikam
	canary      = "canary-value-7f3a9c1e-do-not-print"
	version1    = "4387e9f3d6e14c459867679a90fd0f79"
	version2    = "9b7e0c2a5d8f4e1b8c6a3f0d2e5b7a91"
	version3    = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
)

func ref(vaultURL, name, version string) Ref {
	u, err := url.Parse(vaultURL)
	if err != nil {
		panic(err)
	}
	v, _, _ := strings.Cut(u.Hostname(), ".")
	return Ref{VaultURL: vaultURL, Vault: v, Name: name, Version: version}
}

// resolved returns what Resolve returns for a value read from version.
func resolved(value, version string) Resolved {
	return Resolved{Value: secret.New(value), Version: version}
}

func TestResolve(t *testing.T) {
	t.Parallel()
	k := newKV(t)
	k.SetSecret(contoso, "scim-token", canary, keyvault.Version(version1))
	k.SetSecret(contoso, "svc-password", "p@ss\"wörd", keyvault.Version(version1))
	cred := k.credential()
	r, _ := k.resolver(cred, nil)

	got, err := r.Resolve(t.Context(), []Ref{
		ref(contosoURL, "scim-token", ""),
		ref(contosoURL, "svc-password", version1),
		ref(contosoURL+"/", "SCIM-Token", ""), // same secret, other spelling
	})
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if diff := cmp.Diff([]Resolved{resolved(canary, version1), resolved("p@ss\"wörd", version1), resolved(canary, version1)}, got); diff != "" {
		t.Errorf("values mismatch (-want +got):\n%s", diff)
	}
	if s := fmt.Sprint(got); strings.Contains(s, canary) {
		t.Errorf("values print as %s", s)
	}
	for _, tro := range cred.requests() {
		if !cmp.Equal(tro.Scopes, []string{publicKV + "/.default"}) || tro.TenantID != k.TenantID() {
			t.Errorf("token asked for scopes %v tenant %q, want [%s/.default] tenant %s", tro.Scopes, tro.TenantID, publicKV, k.TenantID())
		}
	}
	if n := k.getCount(contoso, "scim-token", ""); n != 1 {
		t.Errorf("GETs of scim-token = %d, want 1 (deduplicated)", n)
	}
	if n := k.getCount(contoso, "svc-password", version1); n != 1 {
		t.Errorf("GETs of svc-password/%s = %d, want 1", version1, n)
	}

	empty, err := r.Resolve(t.Context(), nil)
	if err != nil || len(empty) != 0 {
		t.Errorf("Resolve(nil) = %v, %v; want no values, no error", empty, err)
	}
}

func TestResolveClouds(t *testing.T) {
	t.Parallel()
	for _, cl := range cloud.All {
		t.Run(cl.Name, func(t *testing.T) {
			t.Parallel()
			k := newKV(t)
			host := "contoso-kv." + cl.KeyVaultSuffix
			k.SetSecret(host, "scim-token", canary)
			cred := k.credential()
			r, _ := k.resolver(cred, nil)
			got, err := r.Resolve(t.Context(), []Ref{ref("https://"+host, "scim-token", "")})
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if !got[0].Value.Equal(secret.New(canary)) {
				t.Error("wrong value")
			}
			want := []string{"https://" + cl.KeyVaultSuffix + "/.default"}
			if reqs := cred.requests(); len(reqs) == 0 || !cmp.Equal(reqs[0].Scopes, want) {
				t.Errorf("token requests = %+v, want scopes %v", reqs, want)
			}
		})
	}
}

func TestResolveDedupe(t *testing.T) {
	t.Parallel()
	k := newKV(t)
	k.SetSecret(contoso, "a", "A", keyvault.Version(version1))
	k.SetSecret(contoso, "b", "B", keyvault.Version(version2))
	k.SetSecret(fabrikam, "a", "other vault", keyvault.Version(version3))
	r, _ := k.resolver(k.credential(), nil)

	got, err := r.Resolve(t.Context(), []Ref{
		ref(contosoURL, "a", ""),
		ref(contosoURL, "b", ""),
		ref(contosoURL, "a", ""),
		ref("https://CONTOSO-KV.vault.azure.net", "A", ""),
		ref(contosoURL, "a", version1),
		ref(fabrikamURL, "a", ""),
		ref(contosoURL, "a", strings.ToUpper(version1)),
	})
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if diff := cmp.Diff([]Resolved{
		resolved("A", version1), resolved("B", version2), resolved("A", version1), resolved("A", version1),
		resolved("A", version1), resolved("other vault", version3), resolved("A", version1),
	}, got); diff != "" {
		t.Errorf("values mismatch (-want +got):\n%s", diff)
	}
	for _, c := range []struct {
		host, name, version string
		want                int
	}{
		{contoso, "a", "", 1},
		{contoso, "b", "", 1},
		{contoso, "a", version1, 1},
		{fabrikam, "a", "", 1},
	} {
		if n := k.getCount(c.host, c.name, c.version); n != c.want {
			t.Errorf("GETs of %s/%s/%s = %d, want %d", c.host, c.name, c.version, n, c.want)
		}
	}
	if n := k.totalGets(); n != 4 {
		t.Errorf("GETs = %d, want 4", n)
	}
}

func TestResolveOneClientPerVault(t *testing.T) {
	t.Parallel()
	k := newKV(t)
	for _, host := range []string{contoso, fabrikam} {
		for _, name := range []string{"s1", "s2", "s3"} {
			k.SetSecret(host, name, host+name)
		}
	}
	r, built := k.resolver(k.credential(), &Options{MaxConcurrency: 1})
	refs := []Ref{
		ref(contosoURL, "s1", ""), ref(fabrikamURL, "s1", ""),
		ref(contosoURL, "s2", ""), ref(fabrikamURL, "s2", ""),
	}
	if _, err := r.Resolve(t.Context(), refs); err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{contoso, fabrikam} {
		if n := k.challengeCount(host); n != 1 {
			t.Errorf("challenges from %s after the first call = %d, want 1", host, n)
		}
	}

	// Later calls, also concurrent ones, reuse the clients: no new client,
	// no new challenge.
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if _, err := r.Resolve(t.Context(), []Ref{ref(contosoURL, "s3", ""), ref(fabrikamURL, "s3", ""), ref(contosoURL+"/", "s1", "")}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := built.Load(); n != 2 {
		t.Errorf("clients built = %d, want 2 (one per vault)", n)
	}
	for _, host := range []string{contoso, fabrikam} {
		if n := k.challengeCount(host); n != 1 {
			t.Errorf("challenges from %s after later calls = %d, want still 1", host, n)
		}
	}
}

func TestResolveConcurrencyBound(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		limit   int
		secrets int
		want    int32
	}{
		{"MaxConcurrency 3", 3, 12, 3},
		{"default 16", 0, 40, DefaultMaxConcurrency},
		{"fewer secrets than the bound", 8, 2, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k := newKV(t)
			k.SetGate(contoso, int(tt.want))
			var refs []Ref
			for i := range tt.secrets {
				name := fmt.Sprintf("s%d", i)
				k.SetSecret(contoso, name, name)
				k.Script(contoso, name, keyvault.Fault{Delay: 5 * time.Millisecond})
				refs = append(refs, ref(contosoURL, name, ""))
			}
			r, _ := k.resolver(k.credential(), &Options{MaxConcurrency: tt.limit})
			// The gate opens only when the bound is reached: a lower bound
			// would hold the reads until this deadline.
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			got, err := r.Resolve(ctx, refs)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.secrets {
				t.Fatalf("values = %d, want %d", len(got), tt.secrets)
			}
			// Every worker sends its requests one after another, so requests
			// in flight never exceed the bound; the stand-in's gate holds
			// the first answers until the bound is reached.
			if n := int32(k.MaxInFlight(contoso)); n != tt.want {
				t.Errorf("requests in flight at most %d, want %d", n, tt.want)
			}
		})
	}
}

func TestResolveFailures(t *testing.T) {
	t.Parallel()
	// An access policy vault's refusal (the stand-in's vaults use RBAC).
	accessPolicy := keyvault.Fault{Status: 403, InnerCode: "AccessDenied",
		Message: "The user, group or application 'appid=1111;oid=6666;iss=https://sts.windows.net/" + testTenant + "/' does not have secrets get permission on key vault 'contoso-kv;location=westeurope'. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125287"}
	withSecret := func(more func(kv *keyvault.Server), opts ...keyvault.SecretOption) func(*keyvault.Server) {
		return func(kv *keyvault.Server) {
			kv.SetSecret(contoso, "scim-token", canary, opts...)
			if more != nil {
				more(kv)
			}
		}
	}
	faulted := func(f keyvault.Fault) func(*keyvault.Server) {
		return withSecret(func(kv *keyvault.Server) { kv.Script(contoso, "scim-token", f) })
	}

	type class struct {
		notFound, disabled, forbidden, throttled bool
		retryAfter                               time.Duration
	}
	tests := []struct {
		name       string
		setup      func(*keyvault.Server) // nil: nothing stored
		ref        Ref
		audience   string // of the token the credential hands out; "": the one asked for
		resource   string // named by the vault's challenge; "": its cloud's
		opts       azsecrets.ClientOptions
		wantStatus int // of the *azcore.ResponseError; 0: none
		wantClass  class
		wantMsg    string // Error() is exactly this
		wantGets   int
	}{
		{
			name: "missing secret", ref: ref(contosoURL, "scim-token", ""),
			wantStatus: 404, wantClass: class{notFound: true}, wantGets: 1,
			wantMsg: `get secret "scim-token" from vault "contoso-kv": 404 Not Found SecretNotFound: A secret with (name/id) scim-token was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182 (x-ms-request-id REQUEST-ID)`,
		},
		{
			name: "missing version", setup: withSecret(nil, keyvault.Version(version1)),
			ref:        ref(contosoURL, "scim-token", "0000000000000000000000000000beef"),
			wantStatus: 404, wantClass: class{notFound: true}, wantGets: 1,
		},
		{
			name: "disabled secret", setup: withSecret(nil, keyvault.Disabled()), ref: ref(contosoURL, "scim-token", ""),
			wantStatus: 403, wantClass: class{disabled: true}, wantGets: 1,
			wantMsg: `get secret "scim-token" from vault "contoso-kv": 403 Forbidden Forbidden/SecretDisabled: Operation get is not allowed on a disabled secret. (x-ms-request-id REQUEST-ID)`,
		},
		{
			name: "RBAC refusal", setup: withSecret(func(kv *keyvault.Server) { kv.SetDenied(contoso, true) }), ref: ref(contosoURL, "scim-token", ""),
			wantStatus: 403, wantClass: class{forbidden: true}, wantGets: 1,
		},
		{
			name: "access policy refusal", setup: faulted(accessPolicy), ref: ref(contosoURL, "scim-token", ""),
			wantStatus: 403, wantClass: class{forbidden: true}, wantGets: 1,
		},
		{
			name: "token refused after the challenge", setup: withSecret(nil), ref: ref(contosoURL, "scim-token", ""),
			audience: "https://graph.microsoft.com", wantStatus: 401, wantClass: class{forbidden: true},
		},
		{
			name: "429 with Retry-After beyond MaxRetryDelay", setup: faulted(keyvault.Fault{Status: 429, RetryAfter: "30"}),
			ref:        ref(contosoURL, "scim-token", ""),
			opts:       azsecrets.ClientOptions{ClientOptions: azcore.ClientOptions{Retry: policy.RetryOptions{MaxRetryDelay: time.Second}}},
			wantStatus: 429, wantClass: class{throttled: true, retryAfter: 30 * time.Second}, wantGets: 1,
		},
		{
			name: "503 after retries", setup: faulted(keyvault.Fault{Status: 503}),
			ref:        ref(contosoURL, "scim-token", ""),
			opts:       azsecrets.ClientOptions{ClientOptions: azcore.ClientOptions{Retry: policy.RetryOptions{MaxRetries: 2}}},
			wantStatus: 503, wantClass: class{throttled: true}, wantGets: 3,
		},
		{
			name: "no value", setup: withSecret(nil, keyvault.NoValue()), ref: Ref{VaultURL: contosoURL, Name: "scim-token"},
			wantGets: 1,
			wantMsg:  `get secret "scim-token" from vault "contoso-kv": secret has no value`,
		},
		{
			name: "plain http refused before I/O", ref: ref("http://contoso-kv.vault.azure.net", "scim-token", ""),
			wantMsg: `get secret "scim-token" from vault "contoso-kv": vault URL "http://contoso-kv.vault.azure.net" is not an https URL without a path`,
		},
		{
			name: "path in vault URL refused", ref: ref(contosoURL+"/keys", "scim-token", ""),
		},
		{
			name: "dot-dot name refused", ref: ref(contosoURL, "..", ""),
		},
		{
			name: "slash in version refused", ref: ref(contosoURL, "scim-token", "../x"),
		},
		{
			name: "challenge for another resource refused", setup: withSecret(nil), ref: ref(contosoURL, "scim-token", ""),
			resource: "https://vault.azure.cn",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k := newKV(t)
			if tt.resource != "" {
				k.SetChallengeResource(contoso, tt.resource)
			}
			if tt.setup != nil {
				tt.setup(k.Server)
			}
			cred := k.credential()
			if tt.audience != "" {
				cred.scopes = []string{tt.audience + "/.default"}
			}
			opts := tt.opts
			r, _ := k.resolver(cred, &Options{ClientOptions: &opts})

			got, err := r.Resolve(t.Context(), []Ref{tt.ref})
			if err == nil {
				t.Fatalf("Resolve = %v, want an error", got)
			}
			if got != nil {
				t.Errorf("Resolve returned values with an error: %v", got)
			}
			var e *Error
			if !errors.As(err, &e) || e.Ref != tt.ref {
				t.Fatalf("error = %v, want an *Error for %+v", err, tt.ref)
			}
			re, isResp := errors.AsType[*azcore.ResponseError](err)
			switch {
			case tt.wantStatus == 0 && isResp:
				t.Errorf("error holds a %d response, want none", re.StatusCode)
			case tt.wantStatus != 0 && (!isResp || re.StatusCode != tt.wantStatus):
				t.Errorf("error = %v, want an *azcore.ResponseError %d", err, tt.wantStatus)
			}
			ra, throttled := Throttled(err)
			gotClass := class{NotFound(err), Disabled(err), Forbidden(err), throttled, ra}
			if gotClass != tt.wantClass {
				t.Errorf("class = %+v, want %+v", gotClass, tt.wantClass)
			}
			msg := err.Error()
			// The request ID is the stand-in's, of the last (the only) read.
			if want := strings.ReplaceAll(tt.wantMsg, "REQUEST-ID", k.lastRequestID()); tt.wantMsg != "" && msg != want {
				t.Errorf("Error() =\n%s\nwant\n%s", msg, want)
			}
			if strings.ContainsAny(msg, "\r\n") || strings.Contains(msg, canary) {
				t.Errorf("Error() = %q, want one line without the value", msg)
			}
			if tt.wantGets != 0 {
				if n := k.totalGets(); n != tt.wantGets {
					t.Errorf("authorized GETs = %d, want %d", n, tt.wantGets)
				}
			}
			if tt.wantStatus == 0 && tt.setup == nil {
				if n := k.challengeCount(contoso) + k.totalGets(); n != 0 {
					t.Errorf("requests = %d, want none", n)
				}
			}
			if tt.resource != "" && len(cred.requests()) != 0 {
				t.Errorf("token requested for a foreign challenge: %+v", cred.requests())
			}
		})
	}
}

func TestResolveReportsEveryFailure(t *testing.T) {
	t.Parallel()
	k := newKV(t)
	k.SetSecret(contoso, "ok", canary)
	k.SetSecret(contoso, "off", canary, keyvault.Disabled())
	r, _ := k.resolver(k.credential(), nil)

	refs := []Ref{
		ref(contosoURL, "gone", ""),
		ref(contosoURL, "ok", ""),
		ref(contosoURL, "off", ""),
		ref(contosoURL, "GONE", ""), // listed twice (names are case-insensitive), reported once
	}
	for i := range refs {
		refs[i].Field = fmt.Sprintf("secrets[%d]", i)
	}
	got, err := r.Resolve(t.Context(), refs)
	if got != nil {
		t.Errorf("values returned with an error: %v", got)
	}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("error = %T %v, want errors.Join", err, err)
	}
	var names []string
	var fields [][]string
	for _, e := range joined.Unwrap() {
		ve, ok := e.(*Error)
		if !ok {
			t.Fatalf("joined error %T, want *Error", e)
		}
		names = append(names, ve.Ref.Name)
		fields = append(fields, ve.Fields)
	}
	if diff := cmp.Diff([]string{"gone", "off"}, names); diff != "" {
		t.Errorf("failed refs mismatch (-want +got):\n%s", diff)
	}
	// Each failure names every field that referenced its secret.
	if diff := cmp.Diff([][]string{{"secrets[0]", "secrets[3]"}, {"secrets[2]"}}, fields); diff != "" {
		t.Errorf("failed fields mismatch (-want +got):\n%s", diff)
	}
	if !NotFound(err) || !Disabled(err) || Forbidden(err) {
		t.Errorf("NotFound, Disabled, Forbidden = %v, %v, %v; want true, true, false", NotFound(err), Disabled(err), Forbidden(err))
	}
	if _, ok := Throttled(err); ok {
		t.Error("Throttled = true, want false")
	}
	if lines := strings.Split(err.Error(), "\n"); len(lines) != 2 {
		t.Errorf("Error() has %d lines, want one per failure:\n%s", len(lines), err)
	}
}

func TestResolveContextCanceled(t *testing.T) {
	t.Parallel()
	k := newKV(t)
	for _, name := range []string{"s1", "s2", "s3"} {
		k.SetSecret(contoso, name, name)
		k.Script(contoso, name, keyvault.Fault{Delay: time.Minute})
	}
	r, _ := k.resolver(k.credential(), &Options{MaxConcurrency: 1})
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		// Cancelled once the first read is held by the stand-in.
		_ = k.Await(ctx, func(rs []keyvault.Request) bool {
			return slices.ContainsFunc(rs, func(r keyvault.Request) bool { return r.Authorized })
		})
		cancel()
	}()

	start := time.Now()
	_, err := r.Resolve(ctx, []Ref{ref(contosoURL, "s1", ""), ref(contosoURL, "s2", ""), ref(contosoURL, "s3", "")})
	if elapsed := time.Since(start); elapsed > 10*time.Second {
		t.Errorf("Resolve took %v after cancellation", elapsed)
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want context.Canceled", err)
	}
	if n := len(err.(interface{ Unwrap() []error }).Unwrap()); n != 3 {
		t.Errorf("failures = %d, want 3", n)
	}
	if n := k.totalGets(); n != 1 {
		t.Errorf("GETs = %d, want 1 (the rest never started)", n)
	}
	if _, ok := Throttled(err); ok || NotFound(err) || Forbidden(err) || Disabled(err) {
		t.Error("a cancellation was classified as a Key Vault answer")
	}
}

func TestNewDoesNoIO(t *testing.T) {
	t.Parallel()
	cred := &fakeCredential{token: testToken}
	r := New(cred, nil)
	if r.limit != DefaultMaxConcurrency {
		t.Errorf("limit = %d, want %d", r.limit, DefaultMaxConcurrency)
	}
	opts := &azsecrets.ClientOptions{}
	opts.Logging.IncludeBody = true
	r = New(cred, &Options{ClientOptions: opts, MaxConcurrency: -1})
	if r.limit != DefaultMaxConcurrency || r.opts.Logging.IncludeBody || !opts.Logging.IncludeBody {
		t.Errorf("limit %d, IncludeBody %v (caller's %v); want %d, false, untouched", r.limit, r.opts.Logging.IncludeBody, opts.Logging.IncludeBody, DefaultMaxConcurrency)
	}
	if len(r.clients) != 0 || len(cred.requests()) != 0 {
		t.Error("New built clients or asked for tokens")
	}
}

// TestLoggingNeverShowsValues asks azcore for every log event and for
// bodies; a resolved value must not reach the log. Not parallel: the azcore
// log listener is process-wide.
func TestLoggingNeverShowsValues(t *testing.T) {
	var mu sync.Mutex
	var logs strings.Builder
	azlog.SetListener(func(_ azlog.Event, msg string) {
		mu.Lock()
		defer mu.Unlock()
		logs.WriteString(msg + "\n")
	})
	t.Cleanup(func() { azlog.SetListener(nil) })

	k := newKV(t)
	k.SetSecret(contoso, "scim-token", canary)
	opts := azsecrets.ClientOptions{}
	opts.Logging.IncludeBody = true
	r, _ := k.resolver(k.credential(), &Options{ClientOptions: &opts})
	if _, err := r.Resolve(t.Context(), []Ref{ref(contosoURL, "scim-token", "")}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if logs.Len() == 0 {
		t.Fatal("no azcore log output; the test checks nothing")
	}
	if strings.Contains(logs.String(), canary) {
		t.Errorf("azcore log holds the secret value:\n%s", logs.String())
	}
}

// TestResolvePanicIsCarried: a panic in a concurrent read reaches the
// goroutine that called Resolve (where the server recovers it) as a *Panic
// that renders neither the panic value nor anything of the request, and no
// reader is left blocked.
func TestResolvePanicIsCarried(t *testing.T) {
	t.Parallel()
	for _, limit := range []int{1, 2, 16} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			t.Parallel()
			r := New(&fakeCredential{token: testToken}, &Options{MaxConcurrency: limit})
			r.newClient = func(string, azcore.TokenCredential, *azsecrets.ClientOptions) (*azsecrets.Client, error) {
				panic("the value hunter2")
			}
			var got any
			func() {
				defer func() { got = recover() }()
				_, _ = r.Resolve(t.Context(), []Ref{ref(contosoURL, "s1", ""), ref(contosoURL, "s2", ""), ref(contosoURL, "s3", "")})
			}()
			p, ok := got.(*Panic)
			if !ok {
				t.Fatalf("Resolve panicked with %T, want *Panic", got)
			}
			if p.PanicType() != "string" || !strings.Contains(string(p.PanicStack()), "vault.(*Resolver).get") {
				t.Errorf("PanicType %q, stack of %d bytes without the reader", p.PanicType(), len(p.PanicStack()))
			}
			if s := fmt.Sprint(p) + p.Error(); strings.Contains(s, "hunter2") {
				t.Error("the carried panic renders the original value")
			}
		})
	}
}
