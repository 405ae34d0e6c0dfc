// Package state keeps the desired state of followed service principals (docs/contract.md §8) in a
// blob container, through azblob with the app's credential. It never stores a secret value:
// a kept document holds Key Vault references and non-credential literals, which the caller
// guarantees and Put checks again.
//
// Each service principal has one blob holding its Kept as JSON; an index of empty blobs, one
// per (secret, service principal), lets Followers read only the states that use one secret.
// Writes are conditional on ETags, so concurrent Puts of one service principal leave one whole
// document and an index that covers it. docs/follow.md ("Kept state") describes the blob
// names, the JSON schema and the concurrency rules.
package state

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
)

// ErrNotFound means there is no kept state for that service principal.
var ErrNotFound = errors.New("state: no kept state for that service principal")

// maxAttempts bounds the read-modify-write rounds of one Put or Delete. A round is lost (412 or
// 409 on the conditional write) only when another write of the same service principal landed
// between its read and its write, and rounds do not overlap, so a Put fails only when more
// than maxAttempts-1 other writes of that service principal land while it runs.
const maxAttempts = 16

// readConcurrency is how many states Followers reads at once.
const readConcurrency = 8

// Options configure a Store; the zero value (or nil) takes azcore's defaults. The app passes
// its shared transport in ClientOptions.Transport.
type Options struct {
	azcore.ClientOptions
}

// Store is the kept states in one blob container.
type Store struct {
	c   *container.Client
	url string // the container URL, for messages
}

// New returns a Store for the container at containerURL
// (https://{account}.blob.core.windows.net/putsecrets-state, or Azurite's
// https://127.0.0.1:{port}/devstoreaccount1/putsecrets-state). It does no network I/O; the
// container is created on the first write when missing.
func New(containerURL string, cred azcore.TokenCredential, o *Options) (*Store, error) {
	if err := checkContainerURL(containerURL); err != nil {
		return nil, err
	}
	if cred == nil {
		return nil, errors.New("state: no credential")
	}
	if o == nil {
		o = &Options{}
	}
	c, err := container.NewClient(strings.TrimSuffix(containerURL, "/"), cred, &container.ClientOptions{ClientOptions: o.ClientOptions})
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	return &Store{c: c, url: strings.TrimSuffix(containerURL, "/")}, nil
}

// checkContainerURL refuses what cannot be a container URL reached with identity-based
// access: another scheme than https, user information, a query (a SAS token), a fragment, or no
// container segment. The setting's full check (the cloud's storage suffix or Azurite's path
// style, the account and container naming rules) is internal/config's, which reads
// PUTSECRETS_STATE_URL; this one keeps a Store built elsewhere from sending the app's token
// anywhere odd.
func checkContainerURL(s string) error {
	const form = "write https://{account}.blob.core.windows.net/{container}"
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.Opaque != "" {
		return fmt.Errorf("state: the state container URL is not an https URL without user, query or fragment; %s", form)
	}
	if strings.Trim(u.Path, "/") == "" {
		return fmt.Errorf("state: the state container URL names no container; %s", form)
	}
	return nil
}

// Put replaces the kept state of k.ServicePrincipalID whole and keeps the index current; it
// creates the container when missing.
//
// Each round reads the current state and its ETag, notes the ETags of the index entries the
// new state drops, writes every index entry of the new state, writes the state with If-Match
// (If-None-Match: * when there was none), and then deletes the dropped entries with If-Match
// their noted ETags. A round that loses the race to a concurrent writer starts again, at most
// maxAttempts times. So concurrent Puts never interleave two documents, an entry a state
// needs is never missing once the state is written (a concurrent writer's delete fails on the
// entry's new ETag), and an entry left over by a crash only costs Followers one read.
func (s *Store) Put(ctx context.Context, k *Kept) error {
	_, err := s.put(ctx, k, false)
	return err
}

// Replace is Put only while a kept state exists: it reports false, and writes nothing, when
// there is none, also when a concurrent Delete removes it between the read and the write (the
// write is conditional on the ETag read). An ordinary save of a service principal uses it, so
// that a `follow: false` that lands meanwhile is never undone.
func (s *Store) Replace(ctx context.Context, k *Kept) (bool, error) {
	return s.put(ctx, k, true)
}

// put is Put and, with mustExist, Replace.
func (s *Store) put(ctx context.Context, k *Kept, mustExist bool) (bool, error) {
	data, err := encode(k)
	if err != nil {
		return false, err
	}
	name := stateBlob(k.ServicePrincipalID)
	want := indexBlobs(k)
	for range maxAttempts {
		cur, etag, err := s.read(ctx, k.ServicePrincipalID)
		if err != nil && !errors.Is(err, ErrNotFound) && etag == nil {
			return false, err
		}
		if mustExist && etag == nil {
			return false, nil
		}
		// A blob that is not a valid kept state (etag set, cur nil) is replaced: its index
		// entries are unknown and stay behind as stale entries.
		var dropped map[string]azcore.ETag
		if cur != nil {
			if dropped, err = s.etags(ctx, without(indexBlobs(cur), want)); err != nil {
				return false, err
			}
		}
		for _, b := range want {
			if err := s.upload(ctx, b, nil, nil); err != nil {
				return false, err
			}
		}
		cond := &blob.ModifiedAccessConditions{}
		if etag != nil {
			cond.IfMatch = etag
		} else {
			absent := azcore.ETagAny
			cond.IfNoneMatch = &absent
		}
		err = s.upload(ctx, name, data, cond)
		if bloberror.HasCode(err, bloberror.ConditionNotMet, bloberror.BlobAlreadyExists) {
			continue // a concurrent writer won this round
		}
		if err != nil {
			return false, err
		}
		return true, s.deleteIfUnchanged(ctx, dropped)
	}
	return false, fmt.Errorf("state: put %s: the kept state of %s changed under %d attempts in a row; try again", s.blobURL(name), k.ServicePrincipalID, maxAttempts)
}

// Get returns the kept state of servicePrincipalID, or ErrNotFound.
func (s *Store) Get(ctx context.Context, servicePrincipalID string) (*Kept, error) {
	id, err := normalizeID(servicePrincipalID)
	if err != nil {
		return nil, err
	}
	k, _, err := s.read(ctx, id)
	return k, err
}

// Delete removes the kept state of servicePrincipalID and its index entries; it returns nil
// when there is none. The state is deleted with If-Match, then its entries with If-Match the
// ETags read before, so an entry a concurrent Put has rewritten stays.
func (s *Store) Delete(ctx context.Context, servicePrincipalID string) error {
	id, err := normalizeID(servicePrincipalID)
	if err != nil {
		return err
	}
	name := stateBlob(id)
	for range maxAttempts {
		cur, etag, err := s.read(ctx, id)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil && etag == nil {
			return err
		}
		var entries map[string]azcore.ETag
		if cur != nil { // else a blob that is not a valid kept state: deleted all the same
			if entries, err = s.etags(ctx, indexBlobs(cur)); err != nil {
				return err
			}
		}
		_, err = s.c.NewBlobClient(name).Delete(ctx, &blob.DeleteOptions{AccessConditions: &blob.AccessConditions{
			ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfMatch: etag},
		}})
		switch {
		case bloberror.HasCode(err, bloberror.ConditionNotMet):
			continue
		case bloberror.HasCode(err, bloberror.BlobNotFound, bloberror.ContainerNotFound):
			return nil
		case err != nil:
			return s.fail("delete", name, err)
		}
		return s.deleteIfUnchanged(ctx, entries)
	}
	return fmt.Errorf("state: delete %s: the kept state changed under %d attempts in a row; try again", s.blobURL(name), maxAttempts)
}

// List returns the ID of every kept service principal, sorted. Blobs under states/ that are
// not named like a kept state are left out.
func (s *Store) List(ctx context.Context) ([]string, error) {
	names, err := s.list(ctx, statesPrefix)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, n := range names {
		id, ok := strings.CutSuffix(strings.TrimPrefix(n, statesPrefix), stateSuffix)
		if ok && isGUID(id) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// Followers returns the kept states that reference the secret (vault host, name; both matched
// case-insensitively), pinned or not, sorted by service principal ID. It lists only the index
// entries under that secret and reads only the states they name, never every state. An entry
// whose state is gone or no longer references the secret is skipped.
func (s *Store) Followers(ctx context.Context, vault, name string) ([]*Kept, error) {
	vault = strings.ToLower(vault)
	if !isVaultHost(vault) {
		return nil, fmt.Errorf("state: followers: %q is not a vault host", vault)
	}
	if !isSecretName(name) {
		return nil, fmt.Errorf("state: followers: %q is not a Key Vault secret name", name)
	}
	prefix := secretPrefix(vault, name)
	names, err := s.list(ctx, prefix)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, n := range names {
		if id := strings.TrimPrefix(n, prefix); isGUID(id) {
			ids = append(ids, id)
		}
	}

	found := make([]*Kept, len(ids))
	errs := make([]error, len(ids))
	sem := make(chan struct{}, readConcurrency)
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			k, _, err := s.read(ctx, id)
			switch {
			case errors.Is(err, ErrNotFound):
			case err != nil:
				errs[i] = err
			case k.references(vault, name):
				found[i] = k
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return slices.DeleteFunc(found, func(k *Kept) bool { return k == nil }), nil
}

// read returns the kept state of id (a lower-case GUID) and its ETag, or ErrNotFound. For a
// blob that is not a valid kept state of id it returns a nil Kept, the blob's ETag and an
// error naming the blob; for a storage failure, no ETag.
func (s *Store) read(ctx context.Context, id string) (*Kept, *azcore.ETag, error) {
	name := stateBlob(id)
	resp, err := s.c.NewBlobClient(name).DownloadStream(ctx, nil)
	if bloberror.HasCode(err, bloberror.BlobNotFound, bloberror.ContainerNotFound) {
		return nil, nil, ErrNotFound
	}
	if err != nil {
		return nil, nil, s.fail("read", name, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxBlobBytes+1))
	if err != nil {
		return nil, nil, s.fail("read", name, err)
	}
	k, err := decode(data)
	if err == nil && k.ServicePrincipalID != id {
		err = errors.New("it holds the state of another service principal")
	}
	if err != nil {
		return nil, resp.ETag, fmt.Errorf("state: %s is not a kept state this program can use: %w; forget the service principal (Delete) or save its state again (Put)", s.blobURL(name), err)
	}
	return k, resp.ETag, nil
}

// upload writes data to the block blob name under cond (nil: unconditionally), creating the
// container when it is missing.
func (s *Store) upload(ctx context.Context, name string, data []byte, cond *blob.ModifiedAccessConditions) error {
	opts := &blockblob.UploadOptions{HTTPHeaders: &blob.HTTPHeaders{BlobContentType: contentType(data)}}
	if cond != nil {
		opts.AccessConditions = &blob.AccessConditions{ModifiedAccessConditions: cond}
	}
	b := s.c.NewBlockBlobClient(name)
	_, err := b.Upload(ctx, streaming.NopCloser(bytes.NewReader(data)), opts)
	if bloberror.HasCode(err, bloberror.ContainerNotFound) {
		if err := s.createContainer(ctx); err != nil {
			return err
		}
		_, err = b.Upload(ctx, streaming.NopCloser(bytes.NewReader(data)), opts)
	}
	if cond != nil && bloberror.HasCode(err, bloberror.ConditionNotMet, bloberror.BlobAlreadyExists) {
		return err // the caller's condition failed: it starts another round
	}
	if err != nil {
		return s.fail("write", name, err)
	}
	return nil
}

func contentType(data []byte) *string {
	t := "application/json"
	if len(data) == 0 {
		t = "application/octet-stream"
	}
	return &t
}

func (s *Store) createContainer(ctx context.Context) error {
	_, err := s.c.Create(ctx, nil)
	if err != nil && !bloberror.HasCode(err, bloberror.ContainerAlreadyExists) {
		return s.fail("create the container", "", err)
	}
	return nil
}

// etags returns the ETags of the blobs that exist among names.
func (s *Store) etags(ctx context.Context, names []string) (map[string]azcore.ETag, error) {
	out := map[string]azcore.ETag{}
	for _, n := range names {
		p, err := s.c.NewBlobClient(n).GetProperties(ctx, nil)
		if bloberror.HasCode(err, bloberror.BlobNotFound, bloberror.ContainerNotFound) || isNotFound(err) {
			continue
		}
		if err != nil {
			return nil, s.fail("read the properties of", n, err)
		}
		if p.ETag != nil {
			out[n] = *p.ETag
		}
	}
	return out, nil
}

// deleteIfUnchanged deletes each blob whose ETag is still the one given; a blob that is gone
// or was rewritten since is left alone.
func (s *Store) deleteIfUnchanged(ctx context.Context, blobs map[string]azcore.ETag) error {
	for n, etag := range blobs {
		_, err := s.c.NewBlobClient(n).Delete(ctx, &blob.DeleteOptions{AccessConditions: &blob.AccessConditions{
			ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfMatch: &etag},
		}})
		if err != nil && !bloberror.HasCode(err, bloberror.ConditionNotMet, bloberror.BlobNotFound, bloberror.ContainerNotFound) {
			return s.fail("delete", n, err)
		}
	}
	return nil
}

// list returns the names of the blobs under prefix; none when the container is missing.
func (s *Store) list(ctx context.Context, prefix string) ([]string, error) {
	pager := s.c.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{Prefix: &prefix})
	var names []string
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if bloberror.HasCode(err, bloberror.ContainerNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, s.fail("list", prefix, err)
		}
		for _, it := range page.Segment.BlobItems {
			if it.Name != nil {
				names = append(names, *it.Name)
			}
		}
	}
	return names, nil
}

// without returns the names in a that are not in b.
func without(a, b []string) []string {
	var out []string
	for _, n := range a {
		if !slices.Contains(b, n) {
			out = append(out, n)
		}
	}
	return out
}

// normalizeID lower-cases a service principal ID and checks that it is a GUID.
func normalizeID(id string) (string, error) {
	l := strings.ToLower(id)
	if !isGUID(l) {
		return "", fmt.Errorf("state: service principal ID %q is not a GUID", id)
	}
	return l, nil
}

func (s *Store) blobURL(name string) string {
	if name == "" {
		return s.url
	}
	return s.url + "/" + name
}
