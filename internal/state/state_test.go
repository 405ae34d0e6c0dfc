package state_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/putsecrets/putsecrets/internal/state"
	"github.com/putsecrets/putsecrets/standin/azurite"
)

var bigFollowers = flag.Int("state.followers", 1000, "kept states in TestFollowersReadsOnlyTheirStates")

// counter is a transport that counts the requests it carries, by kind.
type counter struct {
	next  *http.Client
	reads atomic.Int64 // GET or HEAD of one blob
	lists atomic.Int64 // GET ?comp=list
	other atomic.Int64
}

func (c *counter) Do(r *http.Request) (*http.Response, error) {
	switch {
	case r.URL.Query().Get("comp") == "list":
		c.lists.Add(1)
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		c.reads.Add(1)
	default:
		c.other.Add(1)
	}
	return c.next.Do(r)
}

func (c *counter) reset() { c.reads.Store(0); c.lists.Store(0); c.other.Store(0) }

// rig is a Store on a fresh container of the shared Azurite, and a raw client of the same
// container to look behind the Store's back.
type rig struct {
	store *state.Store
	raw   *container.Client
	count *counter
	url   string
}

func newRig(t *testing.T) *rig {
	t.Helper()
	return newRigWith(t, false)
}

// newRigWith is newRig, with a Store whose credential hands out Key Vault tokens when
// wrongAudience is set.
func newRigWith(t *testing.T, wrongAudience bool) *rig {
	t.Helper()
	c := azurite.NewContainer(t)
	cred := c.Credential
	if wrongAudience {
		cred = c.WrongAudience
	}
	cnt := &counter{next: c.HTTPClient}
	st, err := state.New(c.URL, cred, &state.Options{ClientOptions: azcore.ClientOptions{Transport: cnt}})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := container.NewClient(c.URL, c.Credential, &container.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: c.HTTPClient}})
	if err != nil {
		t.Fatal(err)
	}
	return &rig{store: st, raw: raw, count: cnt, url: c.URL}
}

// blobs returns every blob in the container, name to content.
func (r *rig) blobs(t *testing.T) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	pager := r.raw.NewListBlobsFlatPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			if strings.Contains(err.Error(), "ContainerNotFound") {
				return out
			}
			t.Fatal(err)
		}
		for _, it := range page.Segment.BlobItems {
			resp, err := r.raw.NewBlobClient(*it.Name).DownloadStream(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			data, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			out[*it.Name] = string(data)
		}
	}
	return out
}

// index returns the index entries of the container naming sp, sorted.
func (r *rig) index(t *testing.T, sp string) []string {
	t.Helper()
	var out []string
	for name := range r.blobs(t) {
		if strings.HasPrefix(name, "index/") && strings.HasSuffix(name, "/"+sp) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

func (r *rig) upload(t *testing.T, name, data string) {
	t.Helper()
	ctx := context.Background()
	if _, err := r.raw.Create(ctx, nil); err != nil && !strings.Contains(err.Error(), "ContainerAlreadyExists") {
		t.Fatal(err)
	}
	if _, err := r.raw.NewBlockBlobClient(name).UploadBuffer(ctx, []byte(data), nil); err != nil {
		t.Fatal(err)
	}
}

var saved = time.Date(2026, 12, 2, 14, 0, 0, 0, time.UTC)

// kept builds a kept state of sp whose document references each secret ("vault/name") by
// secretUri.
func kept(sp string, secrets ...string) *state.Kept {
	var entries []string
	k := &state.Kept{ServicePrincipalID: sp, SavedAt: saved, GraphRequestID: "req-" + sp[:8]}
	for i, s := range secrets {
		vault, name, _ := strings.Cut(s, "/")
		key := fmt.Sprintf("Key%d", i)
		entries = append(entries, fmt.Sprintf(`{"key":%q,"secretUri":"https://%s/secrets/%s"}`, key, vault, name))
		k.References = append(k.References, state.Reference{
			Field: fmt.Sprintf("secrets[%d]", i), Key: key, Vault: vault, Name: name, Resolved: fmt.Sprintf("%032x", i+1),
		})
	}
	k.Document = json.RawMessage(fmt.Sprintf(`{"servicePrincipalId":%q,"follow":true,"secrets":[%s]}`, sp, strings.Join(entries, ",")))
	return k
}

func spID(i int) string { return fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i) }

const vault = "contoso-kv.vault.azure.net"

func TestPutGetDeleteList(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ctx := context.Background()
	a, b := spID(1), spID(2)

	// Nothing exists yet, not even the container.
	if ids, err := r.store.List(ctx); err != nil || len(ids) != 0 {
		t.Fatalf("List on a missing container: got %v, %v, want none", ids, err)
	}
	if _, err := r.store.Get(ctx, a); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("Get on a missing container: got %v, want ErrNotFound", err)
	}
	if err := r.store.Delete(ctx, a); err != nil {
		t.Fatalf("Delete on a missing container: %v", err)
	}
	if f, err := r.store.Followers(ctx, vault, "x"); err != nil || len(f) != 0 {
		t.Fatalf("Followers on a missing container: got %v, %v", f, err)
	}

	ka := kept(a, vault+"/scim-token", vault+"/svc-password")
	ka.References[0].Version = "0123456789abcdef0123456789abcdef"
	ka.Document = json.RawMessage("\ufeff {\n  \"servicePrincipalId\": \"" + a + "\",\n \"secrets\": [{\"key\":\"BaseAddress\",\"value\":\"https://scim.example.com/a?b=1&c=<2>\"}]}\n")
	for _, k := range []*state.Kept{ka, kept(b, vault+"/scim-token")} {
		if err := r.store.Put(ctx, k); err != nil {
			t.Fatalf("Put(%s): %v", k.ServicePrincipalID, err)
		}
	}
	got, err := r.store.Get(ctx, strings.ToUpper(a))
	if err != nil {
		t.Fatal(err)
	}
	want := *ka
	want.Document = json.RawMessage(`{"servicePrincipalId":"` + a + `","secrets":[{"key":"BaseAddress","value":"https://scim.example.com/a?b=1&c=<2>"}]}`)
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Errorf("Get after Put (-want +got):\n%s", diff)
	}
	if ids, err := r.store.List(ctx); err != nil || !slices.Equal(ids, []string{a, b}) {
		t.Errorf("List: got %v, %v, want [%s %s]", ids, err, a, b)
	}
	if diff := cmp.Diff([]string{"index/" + vault + "/scim-token/" + a, "index/" + vault + "/svc-password/" + a}, r.index(t, a)); diff != "" {
		t.Errorf("index of %s (-want +got):\n%s", a, diff)
	}

	// A Put replaces the state whole and drops the index entries it no longer needs.
	ka2 := kept(a, vault+"/other")
	if err := r.store.Put(ctx, ka2); err != nil {
		t.Fatal(err)
	}
	if got, err := r.store.Get(ctx, a); err != nil || !cmp.Equal(got, ka2) {
		t.Errorf("Get after the second Put: got %+v, %v, want %+v", got, err, ka2)
	}
	if diff := cmp.Diff([]string{"index/" + vault + "/other/" + a}, r.index(t, a)); diff != "" {
		t.Errorf("index of %s after the second Put (-want +got):\n%s", a, diff)
	}

	if err := r.store.Delete(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, err := r.store.Get(ctx, a); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("Get after Delete: got %v, want ErrNotFound", err)
	}
	if idx := r.index(t, a); len(idx) != 0 {
		t.Errorf("index entries left after Delete: %v", idx)
	}
	if err := r.store.Delete(ctx, a); err != nil {
		t.Errorf("second Delete: %v", err)
	}
	if ids, err := r.store.List(ctx); err != nil || !slices.Equal(ids, []string{b}) {
		t.Errorf("List after Delete: got %v, %v, want [%s]", ids, err, b)
	}
	if idx := r.index(t, b); len(idx) != 1 {
		t.Errorf("Delete of %s touched the index of %s: %v", a, b, idx)
	}
}

// TestFollowersReadsOnlyTheirStates keeps many states of which 3 reference the secret, and
// counts the blob reads of one Followers call: the 3 states, plus the list calls of their
// index entries.
func TestFollowersReadsOnlyTheirStates(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ctx := context.Background()
	n := *bigFollowers
	users := map[int]string{7: "scim-token", n / 2: "SCIM-Token", n - 1: "Scim-Token"}
	start := time.Now()
	sem := make(chan struct{}, 16)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			secrets := []string{vault + fmt.Sprintf("/other-%d", i)}
			if i%50 == 0 { // look-alikes: the same name in another vault, a longer name
				secrets = append(secrets, "fabrikam-kv.vault.azure.net/scim-token", vault+"/scim-token-2")
			}
			if name, ok := users[i]; ok {
				secrets = append(secrets, vault+"/"+name)
			}
			if err := r.store.Put(ctx, kept(spID(i), secrets...)); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("%d Puts in %v", n, time.Since(start).Round(time.Millisecond))

	r.count.reset()
	got, err := r.store.Followers(ctx, "Contoso-KV.vault.azure.net", "scim-TOKEN")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, k := range got {
		ids = append(ids, k.ServicePrincipalID)
	}
	want := []string{spID(7), spID(n / 2), spID(n - 1)}
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Errorf("Followers: got %v, want %v", ids, want)
	}
	reads, lists, other := r.count.reads.Load(), r.count.lists.Load(), r.count.other.Load()
	t.Logf("Followers among %d kept states: %d blob reads, %d list calls, %d other requests", n, reads, lists, other)
	if reads != 3 || lists != 1 || other != 0 {
		t.Errorf("Followers: %d blob reads, %d list calls, %d other requests; want 3, 1, 0", reads, lists, other)
	}
}

// TestConcurrentPuts races many Puts of one service principal: one whole document wins, and
// the index holds exactly the entries of the winner.
func TestConcurrentPuts(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ctx := context.Background()
	sp := spID(42)
	if err := r.store.Put(ctx, kept(sp, vault+"/first")); err != nil {
		t.Fatal(err)
	}
	const writers = 12 // fewer than maxAttempts, so every Put succeeds whatever the order
	inputs := make([]*state.Kept, writers)
	for i := range inputs {
		inputs[i] = kept(sp, vault+fmt.Sprintf("/own-%d", i), vault+"/shared", vault+fmt.Sprintf("/pair-%d", i/2))
	}
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = r.store.Put(ctx, inputs[i])
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Put %d: %v", i, err)
		}
	}
	got, err := r.store.Get(ctx, sp)
	if err != nil {
		t.Fatal(err)
	}
	winner := slices.IndexFunc(inputs, func(k *state.Kept) bool { return cmp.Equal(k, got) })
	if winner < 0 {
		t.Fatalf("the kept state is none of the inputs: %s", got.Document)
	}
	var want []string
	for _, ref := range inputs[winner].References {
		want = append(want, "index/"+vault+"/"+ref.Name+"/"+sp)
	}
	slices.Sort(want)
	// Every Put succeeded, so each entry a replaced state needed was deleted by the Put that
	// replaced it, unless a later Put needed it again: the index is the winner's, exactly.
	idx := r.index(t, sp)
	if diff := cmp.Diff(want, idx); diff != "" {
		t.Errorf("index after the race (-winner's +got):\n%s", diff)
	}
	for _, e := range idx {
		name := strings.Split(e, "/")[2]
		f, err := r.store.Followers(ctx, vault, name)
		if err != nil {
			t.Fatal(err)
		}
		wantHit := slices.Contains(want, e)
		if gotHit := len(f) == 1; gotHit != wantHit {
			t.Errorf("Followers(%s): got %d states, want the kept state %v", name, len(f), wantHit)
		}
	}
	t.Logf("winner %d of %d; %d index entries for %d references", winner, writers, len(idx), len(want))
}

// TestStaleIndexEntries shows that Followers skips entries whose state is gone, does not
// reference the secret, or is not a service principal ID.
func TestStaleIndexEntries(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ctx := context.Background()
	live, moved, gone := spID(1), spID(2), spID(3)
	if err := r.store.Put(ctx, kept(live, vault+"/scim-token")); err != nil {
		t.Fatal(err)
	}
	if err := r.store.Put(ctx, kept(moved, vault+"/elsewhere")); err != nil {
		t.Fatal(err)
	}
	prefix := "index/" + vault + "/scim-token/"
	r.upload(t, prefix+moved, "")
	r.upload(t, prefix+gone, "")
	r.upload(t, prefix+"not-a-guid", "")
	r.upload(t, prefix+strings.ToUpper(live), "")
	got, err := r.store.Followers(ctx, vault, "scim-token")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ServicePrincipalID != live {
		t.Errorf("Followers: got %d states, want only %s", len(got), live)
	}
}

func TestFollowersRefusesOddNames(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	for _, tt := range []struct{ vault, name string }{
		{vault, ""},
		{vault, "a/b"},
		{vault, "../x"},
		{vault, "scim token"},
		{vault, strings.Repeat("a", 128)},
		{"", "x"},
		{"contoso-kv", "x"},
		{"contoso-kv.vault.azure.net/", "x"},
		{"contoso kv.vault.azure.net", "x"},
	} {
		if _, err := r.store.Followers(context.Background(), tt.vault, tt.name); err == nil {
			t.Errorf("Followers(%q, %q): got no error", tt.vault, tt.name)
		}
	}
}

func TestPutRefuses(t *testing.T) {
	t.Parallel()
	const canary = "CANARY-put-refuses-7f3a9"
	r := newRig(t)
	sp := spID(0xabc)
	tests := []struct {
		name string
		edit func(*state.Kept)
		want string
	}{
		{"upper-case ID", func(k *state.Kept) { k.ServicePrincipalID = strings.ToUpper(sp) }, "lower-case GUID"},
		{"no ID", func(k *state.Kept) { k.ServicePrincipalID = "" }, "lower-case GUID"},
		{"document not an object", func(k *state.Kept) { k.Document = json.RawMessage(`["x"]`) }, "not a JSON object"},
		{"document not JSON", func(k *state.Kept) { k.Document = json.RawMessage(`{"a":`) }, "not a JSON object"},
		{"no document", func(k *state.Kept) { k.Document = nil }, "not a JSON object"},
		{"vault with a slash", func(k *state.Kept) { k.References[0].Vault = "a/b.vault.azure.net" }, "vault host"},
		{"upper-case vault", func(k *state.Kept) { k.References[0].Vault = "Contoso-KV.vault.azure.net" }, "vault host"},
		{"name with a slash", func(k *state.Kept) { k.References[0].Name = "a/../b" }, "secret name"},
		{"odd version", func(k *state.Kept) { k.References[0].Resolved = "x/y" }, "version"},
		{"no time", func(k *state.Kept) { k.SavedAt = time.Time{} }, "savedAt"},
		{"literal credential", func(k *state.Kept) {
			k.Document = json.RawMessage(`{"secrets":[{"key":"BaseAddress","value":"https://x"},{"key":"secrettoken","value":"` + canary + `"}]}`)
		}, `secrets[1]: credential-bearing key "secrettoken" has a literal value`},
		{"literal credential, not a string", func(k *state.Kept) {
			k.Document = json.RawMessage(`{"secrets":[{"key":"Password","value":{"x":"` + canary + `"}}]}`)
		}, "credential-bearing key"},
		{"literal credential, odd casing of fields", func(k *state.Kept) {
			k.Document = json.RawMessage(`{"Secrets":[{"KEY":"Password","Value":"` + canary + `"}]}`)
		}, "credential-bearing key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := kept(sp, vault+"/scim-token")
			tt.edit(k)
			err := r.store.Put(context.Background(), k)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Put: got %v, want an error containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), canary) {
				t.Errorf("the error repeats the literal value")
			}
		})
	}
	if b := r.blobs(t); len(b) != 0 {
		t.Errorf("refused Puts stored %d blobs", len(b))
	}
	// A reference in a credential-bearing key's value is no literal.
	k := kept(sp, vault+"/scim-token")
	k.Document = json.RawMessage(`{"secrets":[{"key":"Password","value":" @microsoft.keyvault(VaultName=contoso-kv;SecretName=scim-token)"}]}`)
	if err := r.store.Put(context.Background(), k); err != nil {
		t.Errorf("Put of a reference in value: %v", err)
	}
}

// TestNoValueStored puts documents as the follow path builds them from requests whose
// references resolve to canary values, and reads every blob: no canary, whole or in pieces.
func TestNoValueStored(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ctx := context.Background()
	canaries := []string{"CANARY-scim-d41c8e", "CANARY-pw-93b0aa"}
	for i := range 5 {
		if err := r.store.Put(ctx, kept(spID(100+i), vault+"/scim-token", vault+"/svc-password")); err != nil {
			t.Fatal(err)
		}
	}
	blobs := r.blobs(t)
	if len(blobs) != 5+2*5 {
		t.Errorf("got %d blobs, want 15", len(blobs))
	}
	for name, data := range blobs {
		for _, c := range canaries {
			for _, piece := range []string{c, c[:10], c[len(c)-10:]} {
				if strings.Contains(name, piece) || strings.Contains(data, piece) {
					t.Errorf("blob %s holds a piece of a secret value", name)
				}
			}
		}
	}
}

// TestCorruptBlobs shows that Get refuses a stored state that is not a valid kept state of that
// service principal, saying which blob.
func TestCorruptBlobs(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ctx := context.Background()
	good, err := json.Marshal(map[string]any{
		"schema": 1, "servicePrincipalId": spID(2), "document": map[string]any{}, "references": []any{}, "savedAt": saved,
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, data, want string }{
		{"not JSON", "garbage", "not a kept state"},
		{"another schema", strings.Replace(string(good), `"schema":1`, `"schema":2`, 1), "schema version 2"},
		{"unknown field", strings.Replace(string(good), `{`, `{"value":"x",`, 1), "unknown field"},
		{"another service principal", string(good), "another service principal"},
		{"trailing data", `{"schema":1}{}`, "not a kept state"},
		{"too large", `{"schema":1,"document":"` + strings.Repeat("x", state.MaxBlobBytes) + `"}`, "larger than"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sp := spID(1000 + i)
			r.upload(t, "states/"+sp+".json", tt.data)
			_, err := r.store.Get(ctx, sp)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "states/"+sp+".json") {
				t.Errorf("Get: got %v, want an error naming the blob and containing %q", err, tt.want)
			}
			if _, err := r.store.Followers(ctx, vault, "scim-token"); err != nil {
				t.Errorf("Followers, no entry naming the blob: %v", err)
			}
			// A corrupt state can still be replaced, and forgotten.
			if i%2 == 0 {
				if err := r.store.Put(ctx, kept(sp, vault+"/scim-token")); err != nil {
					t.Fatalf("Put over a corrupt state: %v", err)
				}
				if _, err := r.store.Get(ctx, sp); err != nil {
					t.Errorf("Get after Put over a corrupt state: %v", err)
				}
			}
			if err := r.store.Delete(ctx, sp); err != nil {
				t.Fatalf("Delete of a corrupt state: %v", err)
			}
			if _, err := r.store.Get(ctx, sp); !errors.Is(err, state.ErrNotFound) {
				t.Errorf("Get after Delete: got %v, want ErrNotFound", err)
			}
		})
	}
}

// TestForbidden shows that storage's 403 (here: a token for another audience) is an
// *azcore.ResponseError that names the container and says what to do.
func TestForbidden(t *testing.T) {
	t.Parallel()
	r := newRigWith(t, true)
	err := r.store.Put(context.Background(), kept(spID(1), vault+"/scim-token"))
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusForbidden {
		t.Fatalf("Put with a Key Vault token: got %v, want a 403 *azcore.ResponseError", err)
	}
	for _, want := range []string{r.url, "403 AuthenticationFailed", "https://storage.azure.com"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	_, err = r.store.Get(context.Background(), spID(1))
	if !errors.As(err, &re) || re.StatusCode != http.StatusForbidden {
		t.Errorf("Get with a Key Vault token: got %v, want 403", err)
	}
}

func TestNewRefuses(t *testing.T) {
	t.Parallel()
	for _, u := range []string{
		"",
		"http://acct.blob.core.windows.net/putsecrets-state",
		"https://acct.blob.core.windows.net",
		"https://acct.blob.core.windows.net/",
		"https://acct.blob.core.windows.net/putsecrets-state?sv=2024&sig=x",
		"https://acct.blob.core.windows.net/putsecrets-state#x",
		"https://user@acct.blob.core.windows.net/putsecrets-state",
		"https://acct.blob.core.windows.net/putsecrets-state?",
		"https://acct.blob.core.windows.net//",
	} {
		if _, err := state.New(u, staticToken{}, nil); err == nil {
			t.Errorf("New(%q): got no error", u)
		}
	}
	if _, err := state.New("https://acct.blob.core.windows.net/putsecrets-state", nil, nil); err == nil {
		t.Error("New without a credential: got no error")
	}
	for _, u := range []string{"https://acct.blob.core.windows.net/putsecrets-state", "https://127.0.0.1:10000/devstoreaccount1/putsecrets-state/"} {
		if _, err := state.New(u, staticToken{}, nil); err != nil {
			t.Errorf("New(%q): %v", u, err)
		}
	}
}

// TestConcurrentPutsAndDeletes races Puts and Deletes of one service principal: whatever wins,
// the index holds exactly the entries of the state left, none when it was deleted last.
func TestConcurrentPutsAndDeletes(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ctx := context.Background()
	sp := spID(77)
	const ops = 12 // fewer than maxAttempts, so every operation succeeds whatever the order
	var wg sync.WaitGroup
	errs := make([]error, ops)
	for i := range ops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%3 == 2 {
				errs[i] = r.store.Delete(ctx, sp)
				return
			}
			errs[i] = r.store.Put(ctx, kept(sp, vault+"/shared", vault+fmt.Sprintf("/own-%d", i)))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("operation %d: %v", i, err)
		}
	}
	var want []string
	switch got, err := r.store.Get(ctx, sp); {
	case errors.Is(err, state.ErrNotFound):
	case err != nil:
		t.Fatal(err)
	default:
		for _, ref := range got.References {
			want = append(want, "index/"+vault+"/"+ref.Name+"/"+sp)
		}
		slices.Sort(want)
	}
	if diff := cmp.Diff(want, r.index(t, sp), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("index after the race (-state's +got):\n%s", diff)
	}
}

// TestForbiddenRole shows the advice for storage's 403 when the identity lacks a data role
// (Azurite has no RBAC, so a transport answers as Azure Storage does).
func TestForbiddenRole(t *testing.T) {
	t.Parallel()
	u := "https://acct.blob.core.windows.net/putsecrets-state"
	st, err := state.New(u, staticToken{}, &state.Options{ClientOptions: azcore.ClientOptions{Transport: forbidden{}}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = st.Get(context.Background(), spID(1))
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusForbidden {
		t.Fatalf("Get: got %v, want a 403 *azcore.ResponseError", err)
	}
	for _, want := range []string{u + "/states/" + spID(1) + ".json", "AuthorizationPermissionMismatch", "Storage Blob Data Contributor"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

// forbidden answers every request as Azure Storage does when the caller's identity has no
// data role on the account.
type forbidden struct{}

func (forbidden) Do(r *http.Request) (*http.Response, error) {
	body := `<?xml version="1.0" encoding="utf-8"?><Error><Code>AuthorizationPermissionMismatch</Code><Message>This request is not authorized to perform this operation using this permission.</Message></Error>`
	return &http.Response{
		StatusCode: http.StatusForbidden, Status: "403 This request is not authorized to perform this operation using this permission.",
		Header:  http.Header{"X-Ms-Error-Code": {"AuthorizationPermissionMismatch"}, "Content-Type": {"application/xml"}},
		Body:    io.NopCloser(strings.NewReader(body)),
		Request: r,
	}, nil
}

// staticToken hands out a fixed token with a day to live.
type staticToken struct{}

func (staticToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: "static", ExpiresOn: time.Now().Add(24 * time.Hour)}, nil
}

// TestReplace: Replace writes only over an existing state, keeps the index
// of what it wrote, and writes nothing (no state, no index entry) for a
// service principal that is not followed, also after a Delete.
func TestReplace(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ctx := context.Background()
	a := spID(41)

	if ok, err := r.store.Replace(ctx, kept(a, vault+"/scim-token")); err != nil || ok {
		t.Fatalf("Replace with no state (and no container): got %v, %v, want false, nil", ok, err)
	}
	if err := r.store.Put(ctx, kept(a, vault+"/scim-token")); err != nil {
		t.Fatal(err)
	}
	if ok, err := r.store.Replace(ctx, kept(a, vault+"/svc-password")); err != nil || !ok {
		t.Fatalf("Replace over a state: got %v, %v, want true, nil", ok, err)
	}
	if f, err := r.store.Followers(ctx, vault, "svc-password"); err != nil || len(f) != 1 {
		t.Errorf("Followers of the replacing state's secret: got %d, %v, want 1", len(f), err)
	}
	if f, err := r.store.Followers(ctx, vault, "scim-token"); err != nil || len(f) != 0 {
		t.Errorf("Followers of the replaced state's secret: got %d, %v, want 0", len(f), err)
	}
	if err := r.store.Delete(ctx, a); err != nil {
		t.Fatal(err)
	}
	if ok, err := r.store.Replace(ctx, kept(a, vault+"/other")); err != nil || ok {
		t.Fatalf("Replace after Delete: got %v, %v, want false, nil", ok, err)
	}
	if _, err := r.store.Get(ctx, a); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("Get after Replace of a forgotten state: %v, want ErrNotFound", err)
	}
	if f, err := r.store.Followers(ctx, vault, "other"); err != nil || len(f) != 0 {
		t.Errorf("Followers after a refused Replace: got %d, %v, want 0", len(f), err)
	}
}
