package azurite_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/putsecrets/putsecrets/standin/azurite"
	"github.com/putsecrets/putsecrets/standin/identity"
	"github.com/putsecrets/putsecrets/standin/tlsca"
)

func clientOptions(s *azurite.Server) *container.ClientOptions {
	return &container.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: s.HTTPClient()}}
}

// TestBlobProtocol runs the real azblob client with a managed identity token from the
// identity stand-in against a private Azurite: what internal/state relies on.
func TestBlobProtocol(t *testing.T) {
	ca, err := tlsca.New()
	if err != nil {
		t.Fatal(err)
	}
	s := azurite.Start(t, ca)
	if !strings.HasPrefix(s.BlobEndpoint(), "https://127.0.0.1:") || !strings.HasSuffix(s.BlobEndpoint(), "/"+azurite.Account) {
		t.Fatalf("BlobEndpoint() = %q, want https://127.0.0.1:PORT/%s", s.BlobEndpoint(), azurite.Account)
	}
	ctx := context.Background()
	cu := s.NewContainerURL()
	if cu == s.NewContainerURL() {
		t.Fatal("NewContainerURL handed out one name twice")
	}
	_, cred := identity.Shared(t)
	c, err := container.NewClient(cu, cred, clientOptions(s))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create(ctx, nil); err != nil {
		t.Fatalf("create container: %v", err)
	}
	b := c.NewBlockBlobClient("index/a/b")
	absent := azcore.ETagAny
	put := &azblob.UploadBufferOptions{AccessConditions: &azblob.AccessConditions{ModifiedAccessConditions: &container.ModifiedAccessConditions{IfNoneMatch: &absent}}}
	if _, err := b.UploadBuffer(ctx, []byte("one"), put); err != nil {
		t.Fatalf("first upload with If-None-Match *: %v", err)
	}
	_, err = b.UploadBuffer(ctx, []byte("two"), put)
	if !bloberror.HasCode(err, bloberror.BlobAlreadyExists) {
		t.Fatalf("second upload with If-None-Match *: got %v, want BlobAlreadyExists", err)
	}
	got, err := b.DownloadStream(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(got.Body)
	got.Body.Close()
	if err != nil || string(data) != "one" {
		t.Fatalf("download: got %q, %v, want \"one\"", data, err)
	}
	pager := c.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{Prefix: ptr("index/a/")})
	var names []string
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Segment.BlobItems {
			names = append(names, *it.Name)
		}
	}
	if len(names) != 1 || names[0] != "index/a/b" {
		t.Errorf("list by prefix: got %q, want [index/a/b]", names)
	}
}

// TestWrongAudience shows that Azurite refuses a token that is not for storage (the identity
// stand-in's opaque Key Vault token) with 403, as Azure Storage refuses a token for another
// audience.
func TestWrongAudience(t *testing.T) {
	ct := azurite.NewContainer(t)
	c, err := container.NewClient(ct.URL, ct.WrongAudience, clientOptions(ct.Server))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Create(context.Background(), nil)
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusForbidden {
		t.Fatalf("create container with a Key Vault token: got %v, want a 403 *azcore.ResponseError", err)
	}
}

// TestSharedOnce shows that Shared starts one Azurite per test binary, and that NewContainer
// hands out a container of it of each test's own, with one credential for the binary.
func TestSharedOnce(t *testing.T) {
	a, b := azurite.Shared(t), azurite.Shared(t)
	if a != b {
		t.Fatal("Shared returned two servers")
	}
	ct, other := azurite.NewContainer(t), azurite.NewContainer(t)
	if ct.Server != a || other.Server != a || ct.URL == other.URL || ct.Credential != other.Credential {
		t.Fatalf("NewContainer: servers %p %p (shared %p), URLs %s %s, one credential %v; want the shared server, two URLs, one credential",
			ct.Server, other.Server, a, ct.URL, other.URL, ct.Credential == other.Credential)
	}
	mi, cred := identity.Shared(t)
	if mi2, cred2 := identity.Shared(t); mi2 != mi || cred2 != cred || ct.Credential != cred {
		t.Error("identity.Shared returned two endpoints or credentials, or NewContainer another one")
	}
	if os.Getenv("IDENTITY_ENDPOINT") != mi.Endpoint() || os.Getenv("IDENTITY_HEADER") != mi.Header() {
		t.Error("the process environment does not name the shared identity endpoint")
	}
	if !strings.HasPrefix(ct.URL, a.BlobEndpoint()+"/") {
		t.Errorf("container URL %s is not under %s", ct.URL, a.BlobEndpoint())
	}
	c, err := container.NewClient(ct.URL, ct.Credential, &container.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: ct.HTTPClient}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create(context.Background(), nil); err != nil {
		t.Fatalf("create container on the shared Azurite: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }
