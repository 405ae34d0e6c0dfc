package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/putsecrets/putsecrets/internal/state"
	"github.com/putsecrets/putsecrets/standin/azure"
	"github.com/putsecrets/putsecrets/standin/graph"
	"github.com/putsecrets/putsecrets/standin/keyvault"
)

// startFollowing starts a fixture whose handler keeps states in a container
// of its own (PUTSECRETS_STATE_URL). After the test every blob of that
// container joins the outputs the canary check searches.
func startFollowing(t *testing.T, s settings) *fixture {
	t.Helper()
	f := start(t, s, azure.WithStorage())
	t.Cleanup(func() { f.recordBlobs() })
	return f
}

func (f *fixture) clientOptions() azcore.ClientOptions {
	return azcore.ClientOptions{Transport: f.env.HTTPClient()}
}

// store is the fixture's kept states, read as the test's own client.
func (f *fixture) store() *state.Store {
	f.t.Helper()
	st, err := state.New(f.env.StateURL, identityCred{f.env}, &state.Options{ClientOptions: f.clientOptions()})
	if err != nil {
		f.t.Fatal(err)
	}
	return st
}

// kept returns the kept state of sp, or nil.
func (f *fixture) kept(sp string) *state.Kept {
	f.t.Helper()
	k, err := f.store().Get(context.Background(), sp)
	if errors.Is(err, state.ErrNotFound) {
		return nil
	}
	if err != nil {
		f.t.Fatalf("read the kept state of %s: %v", sp, err)
	}
	return k
}

// recordBlobs adds every blob of the fixture's container (name and
// content) to the outputs the canary check searches: a kept state never
// holds a value, whole or in pieces.
func (f *fixture) recordBlobs() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := container.NewClient(f.env.StateURL, identityCred{f.env}, &container.ClientOptions{ClientOptions: f.clientOptions()})
	if err != nil {
		f.t.Errorf("blob canary check: %v", err)
		return
	}
	pager := c.NewListBlobsFlatPager(nil)
	n := 0
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if bloberror.HasCode(err, bloberror.ContainerNotFound) {
			return
		}
		if err != nil {
			f.t.Errorf("blob canary check: list: %v", err)
			return
		}
		for _, item := range page.Segment.BlobItems {
			name := *item.Name
			resp, err := c.NewBlobClient(name).DownloadStream(ctx, nil)
			if err != nil {
				f.t.Errorf("blob canary check: read %s: %v", name, err)
				continue
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				f.t.Errorf("blob canary check: read %s: %v", name, err)
			}
			outputs.add(f.t.Name()+" blob "+name, name+"\n"+string(body))
			n++
		}
	}
}

// kvVersion stores a canary as version v of secret name and returns the
// secret's URI without a version. The canary belongs under key in Graph.
func (f *fixture) kvVersion(name, key, v string) string {
	value := newCanary(f.t)
	f.belongs[value] = key
	f.stored[name] = value
	f.env.KeyVault.SetSecret(f.vaultHost(vault), name, value, keyvault.Version(v))
	return "https://" + f.vaultHost(vault) + "/secrets/" + name
}

// followAnswer is the success answer with its followed member.
type followAnswer struct {
	answer
	Followed bool `json:"followed"`
}

const (
	ver1 = "1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a"
	ver2 = "2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b"
	verP = "9f9f9f9f9f9f9f9f9f9f9f9f9f9f9f9f"
)

// TestFollowKeepsTheDocument: follow: true keeps the document as given, with
// each reference's resolved version, the time and Graph's request-id; the
// answer says followed.
func TestFollowKeepsTheDocument(t *testing.T) {
	t.Parallel()
	f := startFollowing(t, nil)
	token := f.kvVersion("scim-token", "SecretToken", ver1)
	f.kvVersion("svc-password", "Password", ver2)
	f.env.KeyVault.SetSecret(f.vaultHost(vault), "svc-password", f.literal(""), keyvault.Version(verP)) // a newer version nobody pinned
	// A literal of a non-credential key is kept as written, so it is no canary.
	const base = "https://scim.example.com/scim/v2"
	body := encode(t, map[string]any{
		"servicePrincipalId": spID,
		"secrets": []map[string]any{
			literal("BaseAddress", base),
			uri("SecretToken", token),
			literal("Password", "@Microsoft.KeyVault(VaultName=contoso-kv;SecretName=svc-password;SecretVersion="+ver2+")"),
		},
		"follow": true,
	})
	before := time.Now().Add(-time.Second)
	res := f.http(body)
	a := ok(t, res)
	var fa followAnswer
	if err := json.Unmarshal(res.CallerBody, &fa); err != nil || !fa.Followed {
		t.Errorf("answer %s does not say followed", res.CallerBody)
	}
	k := f.kept(spID)
	if k == nil {
		t.Fatal("nothing kept")
	}
	if string(k.Document) != string(body) {
		t.Errorf("kept document differs from the one sent")
	}
	want := []state.Reference{
		{Field: "secrets[1]", Key: "SecretToken", Vault: "contoso-kv.vault.azure.net", Name: "scim-token", Resolved: ver1},
		{Field: "secrets[2]", Key: "Password", Vault: "contoso-kv.vault.azure.net", Name: "svc-password", Version: ver2, Resolved: ver2},
	}
	if fmt.Sprint(k.References) != fmt.Sprint(want) {
		t.Errorf("references = %+v, want %+v", k.References, want)
	}
	if k.GraphRequestID != a.GraphRequestID || k.SavedAt.Before(before) || k.SavedAt.After(time.Now()) {
		t.Errorf("kept request-id %s at %v; want %s, now", k.GraphRequestID, k.SavedAt, a.GraphRequestID)
	}
}

// TestFollowOffAndMirror: an ordinary save of a followed service principal
// replaces its kept state; follow: false forgets it; an ordinary save of a
// service principal nobody follows keeps nothing; a dry run keeps nothing.
func TestFollowOffAndMirror(t *testing.T) {
	t.Parallel()
	f := startFollowing(t, nil)
	first := f.kvVersion("first", "SecretToken", ver1)
	second := f.kvVersion("second", "SecretToken", ver2)

	ok(t, f.http(doc(spID, uri("SecretToken", first))))
	if k := f.kept(spID); k != nil {
		t.Fatal("an ordinary save of an unfollowed service principal kept a state")
	}
	dry := doc(spID, uri("SecretToken", first))
	dry["follow"], dry["dryRun"] = true, true
	ok(t, f.http(dry))
	if k := f.kept(spID); k != nil {
		t.Fatal("a dry run kept a state")
	}

	on := doc(spID, uri("SecretToken", first))
	on["follow"] = true
	ok(t, f.http(on))
	if k := f.kept(spID); k == nil || k.References[0].Name != "first" {
		t.Fatalf("follow: true kept %+v", k)
	}
	mirror := encode(t, doc(spID, uri("SecretToken", second)))
	var fa followAnswer
	res := f.http(mirror)
	ok(t, res)
	if err := json.Unmarshal(res.CallerBody, &fa); err != nil || !fa.Followed {
		t.Errorf("answer %s of the mirrored save does not say followed", res.CallerBody)
	}
	if k := f.kept(spID); k == nil || string(k.Document) != string(mirror) || k.References[0].Resolved != ver2 {
		t.Fatalf("the ordinary save did not replace the kept state: %+v", k)
	}
	dryOff := doc(spID, uri("SecretToken", first))
	dryOff["follow"], dryOff["dryRun"] = false, true
	ok(t, f.http(dryOff))
	if f.kept(spID) == nil {
		t.Fatal("a dry run with follow: false forgot the state")
	}
	off := doc(spID, uri("SecretToken", first))
	off["follow"] = false
	res = f.http(off)
	ok(t, res)
	if strings.Contains(string(res.CallerBody), `"followed"`) {
		t.Errorf("answer of follow: false says followed: %s", res.CallerBody)
	}
	if k := f.kept(spID); k != nil {
		t.Fatalf("follow: false left %+v", k)
	}
	if ids, err := f.store().List(context.Background()); err != nil || len(ids) != 0 {
		t.Errorf("kept states after forgetting: %v, %v", ids, err)
	}
}

// TestFollowConcurrentSaves: concurrent followed saves of one service
// principal, each with another document, leave exactly one of them whole.
func TestFollowConcurrentSaves(t *testing.T) {
	t.Parallel()
	f := startFollowing(t, nil)
	const n = 6
	bodies := make([][]byte, n)
	for i := range n {
		u := f.kvVersion(fmt.Sprintf("secret-%d", i), "SecretToken", fmt.Sprintf("%032x", i+1))
		d := doc(spID, uri("SecretToken", u), literal("SyncAll", i%2 == 0))
		d["follow"] = true
		bodies[i] = encode(t, d)
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { ok(t, f.http(bodies[i])) })
	}
	wg.Wait()
	k := f.kept(spID)
	if k == nil {
		t.Fatal("nothing kept")
	}
	which := -1
	for i, b := range bodies {
		if string(k.Document) == string(b) {
			which = i
		}
	}
	if which < 0 {
		t.Fatalf("the kept document is none of those sent: %s", k.Document)
	}
	if len(k.References) != 1 || k.References[0].Name != fmt.Sprintf("secret-%d", which) || k.References[0].Resolved != fmt.Sprintf("%032x", which+1) {
		t.Errorf("kept references %+v do not belong to document %d", k.References, which)
	}
	// The index names only the kept secret's followers.
	for i := range n {
		got, err := f.store().Followers(context.Background(), "contoso-kv.vault.azure.net", fmt.Sprintf("secret-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		if (len(got) == 1) != (i == which) {
			t.Errorf("followers of secret-%d = %d, want %v", i, len(got), i == which)
		}
	}
}

// TestFollowRefused: follow with a literal credential is 403 even where the
// settings allow literals, follow without a store is 403 naming
// PUTSECRETS_STATE_URL, both before any call; an ordinary save with a
// literal credential of a followed service principal is 403 too.
func TestFollowRefused(t *testing.T) {
	t.Parallel()
	t.Run("literal credential", func(t *testing.T) {
		t.Parallel()
		f := startFollowing(t, settings{"PUTSECRETS_ALLOW_LITERAL_CREDENTIALS": "true"})
		d := doc(spID, literal("SecretToken", f.literal("")))
		d["follow"] = true
		p := failed(t, f.http(d), 403)
		if len(p.Errors) != 1 || p.Errors[0].Field != "secrets[0].value" || !strings.Contains(p.Errors[0].Message, "a kept state never holds a value") {
			t.Errorf("problem = %+v", p)
		}
		if len(f.env.Graph.Calls()) != 0 || f.kept(spID) != nil {
			t.Error("a refused request reached Graph or kept a state")
		}

		// Followed, then the same with a literal and no follow.
		on := doc(spID, uri("SecretToken", f.kvVersion("scim-token", "SecretToken", ver1)))
		on["follow"] = true
		ok(t, f.http(on))
		calls := len(f.env.Graph.Calls())
		p = failed(t, f.http(doc(spID, literal("SecretToken", f.literal("")))), 403)
		if len(p.Errors) != 1 || !strings.Contains(p.Errors[0].Message, "follow: false") {
			t.Errorf("problem = %+v", p)
		}
		if len(f.env.Graph.Calls()) != calls {
			t.Error("the refused save reached Graph")
		}
		if k := f.kept(spID); k == nil || string(k.Document) != string(encode(t, on)) {
			t.Error("the refused save changed the kept state")
		}
		// follow: false with the literal is allowed: nothing is kept after it.
		off := doc(spID, literal("SecretToken", f.literal("SecretToken")))
		off["follow"] = false
		ok(t, f.http(off))
		if f.kept(spID) != nil {
			t.Error("follow: false kept the state")
		}
	})
	t.Run("no store", func(t *testing.T) {
		t.Parallel()
		f := start(t, nil)
		for _, v := range []bool{true, false} {
			d := doc(spID, uri("SecretToken", f.kvSecret("scim-token", "SecretToken")))
			d["follow"] = v
			p := failed(t, f.http(d), 403)
			if len(p.Errors) != 1 || p.Errors[0].Field != "follow" || !strings.Contains(p.Errors[0].Message, "PUTSECRETS_STATE_URL") {
				t.Errorf("follow %v: problem = %+v", v, p)
			}
		}
		if n := len(f.env.Graph.Calls()) + len(f.env.KeyVault.Requests()); n != 0 {
			t.Errorf("%d calls left the process", n)
		}
		ok(t, f.http(doc(spID, uri("SecretToken", f.kvSecret("scim-token", "SecretToken")))))
		f.expectSaved(spID, []graph.KeyValue{{Key: "SecretToken", Value: f.secretOf("scim-token")}})
	})
}
