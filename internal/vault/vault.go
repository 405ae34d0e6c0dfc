// Package vault resolves Azure Key Vault secret references with azsecrets.
//
// A Resolver holds one azsecrets.Client per vault, built on first use and
// reused, so each vault's authentication challenge is answered once per
// process. Resolve reads a request's references concurrently, each distinct
// secret once, and returns the values as secret.Value, which redacts itself
// everywhere, each with the version Key Vault served. The package also classifies Key Vault failures (NotFound,
// Disabled, Forbidden, Throttled) so that Key Vault knowledge lives here.
package vault

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/putsecrets/putsecrets/internal/request"
	"github.com/putsecrets/putsecrets/internal/secret"
)

// DefaultMaxConcurrency is how many secrets Resolve reads at once unless
// Options says otherwise.
const DefaultMaxConcurrency = 16

// Options configures a Resolver.
type Options struct {
	// ClientOptions configures every azsecrets.Client; nil means defaults.
	// Logging.IncludeBody is always off: a secret's response body is its
	// value.
	ClientOptions *azsecrets.ClientOptions
	// MaxConcurrency bounds the reads in flight in one Resolve call;
	// zero or less means DefaultMaxConcurrency.
	MaxConcurrency int
}

// Resolver reads secrets from Key Vault. It is safe for concurrent use.
type Resolver struct {
	cred  azcore.TokenCredential
	opts  azsecrets.ClientOptions
	limit int

	// newClient builds a client for one vault; tests count its calls.
	newClient func(vaultURL string, cred azcore.TokenCredential, o *azsecrets.ClientOptions) (*azsecrets.Client, error)

	// readers run the reads beside the calling goroutine's own.
	readers *readers

	mu      sync.Mutex
	clients map[string]*azsecrets.Client // by normalized vault URL
}

// New returns a Resolver that authenticates with cred. It does no network
// I/O. o may be nil.
func New(cred azcore.TokenCredential, o *Options) *Resolver {
	r := &Resolver{
		cred:      cred,
		limit:     DefaultMaxConcurrency,
		newClient: azsecrets.NewClient,
		readers:   newReaders(),
		clients:   map[string]*azsecrets.Client{},
	}
	if o != nil {
		if o.ClientOptions != nil {
			r.opts = *o.ClientOptions
		}
		if o.MaxConcurrency > 0 {
			r.limit = o.MaxConcurrency
		}
	}
	r.opts.Logging.IncludeBody = false
	return r
}

// Ref names one secret in one vault.
type Ref struct {
	// VaultURL is the vault's URL, e.g. "https://contoso-kv.vault.azure.net".
	VaultURL string
	// Vault is the vault's name, e.g. "contoso-kv", used in messages.
	Vault string
	// Name is the secret's name.
	Name string
	// Version is the secret's version; empty means the current one.
	Version string
	// Field is the request field that holds the reference, e.g.
	// "secrets[2]" ("" when it comes from no request). It travels with the
	// reference so that a failure names it (Error.Fields).
	Field string
}

// RefOf is the Ref of a reference parsed from a request document, its
// field included.
func RefOf(r request.Reference) Ref {
	return Ref{VaultURL: r.VaultURL(), Vault: r.Vault, Name: r.Name, Version: r.Version, Field: r.Field}
}

// vaultName is the name to show for r's vault.
func (r Ref) vaultName() string {
	if r.Vault != "" {
		return r.Vault
	}
	if u, err := url.Parse(r.VaultURL); err == nil && u.Host != "" {
		name, _, _ := strings.Cut(u.Hostname(), ".")
		return name
	}
	return r.VaultURL
}

// key identifies a distinct secret version. Key Vault names are
// case-insensitive, so are the key's parts.
type key struct{ vault, name, version string }

func (r Ref) key() key {
	return key{normalizeVaultURL(r.VaultURL), strings.ToLower(r.Name), strings.ToLower(r.Version)}
}

// normalizeVaultURL returns "scheme://host" in lower case, or u unchanged
// when it does not parse (Ref.check rejects it later).
func normalizeVaultURL(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		return u
	}
	return strings.ToLower(p.Scheme + "://" + p.Host)
}

// check refuses references that must not reach the network: Key Vault is
// HTTPS only, and names and versions follow Key Vault's rules as package
// request defines them, the same checks the request's references passed (so
// no path tricks survive into the request URL).
func (r Ref) check() error {
	u, err := url.Parse(r.VaultURL)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("vault URL %q is not an https URL without a path", r.VaultURL)
	}
	if err := request.CheckSecretName(r.Name); err != nil {
		return err
	}
	if r.Version != "" {
		if err := request.CheckSecretVersion(r.Version); err != nil {
			return err
		}
	}
	return nil
}

// errNoValue reports a secret whose response carried no value.
var errNoValue = errors.New("secret has no value")

// errPanicked marks the reads left undone after another read panicked.
var errPanicked = errors.New("another read panicked")

// Panic is what Resolve panics with when a concurrent read panicked: the
// read's panic, carried to the goroutine that called Resolve. It never
// renders the original value (it may hold request data or a secret), only
// its type and the stack where it happened.
type Panic struct {
	value any
	stack []byte
}

// Error returns the original panic value's type, for a recovery that
// prints the panic.
func (p *Panic) Error() string { return fmt.Sprintf("panic in a Key Vault read: %T", p.value) }

// PanicType returns the original panic value's type.
func (p *Panic) PanicType() string { return fmt.Sprintf("%T", p.value) }

// PanicStack returns the stack of the goroutine that panicked.
func (p *Panic) PanicStack() []byte { return p.stack }

// Resolved is one reference as read: its value and the version Key Vault
// served it from (for an unversioned reference, the version that was
// current at the read).
type Resolved struct {
	Value secret.Value
	// Version is the version ID from the secret's id, or "" when Key Vault
	// answered with an id that names none.
	Version string
}

// Resolve reads every reference and returns what it read in the order of refs.
// Reads run concurrently, at most MaxConcurrency at once, and each distinct
// (vault URL, name, version) is read once even when listed several times.
//
// When any read fails, Resolve returns no values and errors.Join of one
// *Error per failed distinct reference, in the order of refs: every failure,
// not only the first. Each *Error's Fields lists the Field of every ref that
// named that secret. Once ctx is done, reads not yet started fail with
// ctx.Err().
func (r *Resolver) Resolve(ctx context.Context, refs []Ref) ([]Resolved, error) {
	type job struct {
		ref    Ref
		vault  string   // ref's normalized vault URL, the client's key
		fields []string // the Field of every ref that names this secret
		val    Resolved
		err    error
	}
	jobs := make([]*job, 0, len(refs))
	slot := make([]*job, len(refs))
	seen := make(map[key]*job, len(refs))
	for i, ref := range refs {
		k := ref.key()
		j, ok := seen[k]
		if !ok {
			j = &job{ref: ref, vault: k.vault}
			seen[k] = j
			jobs = append(jobs, j)
		}
		if ref.Field != "" {
			j.fields = append(j.fields, ref.Field)
		}
		slot[i] = j
	}

	// Every job is queued before the readers start, so none waits on a
	// hand-off; the calling goroutine is one of the readers.
	queue := make(chan *job, len(jobs))
	for _, j := range jobs {
		queue <- j
	}
	close(queue)
	var (
		wg       sync.WaitGroup
		panicked atomic.Pointer[Panic]
	)
	read := func() {
		defer wg.Done()
		defer func() {
			if v := recover(); v != nil {
				panicked.CompareAndSwap(nil, &Panic{value: v, stack: debug.Stack()})
				for j := range queue { // let the other reads finish
					j.err = errPanicked
				}
			}
		}()
		for j := range queue {
			if err := ctx.Err(); err != nil {
				j.err = err
				continue
			}
			j.val, j.err = r.get(ctx, j.ref, j.vault)
		}
	}
	n := min(r.limit, len(jobs))
	wg.Add(n)
	for range n - 1 {
		r.readers.run(read)
	}
	if n > 0 {
		read()
	}
	wg.Wait()
	if p := panicked.Load(); p != nil {
		// Carried to the caller's goroutine, where the server's recovery
		// turns it into an internal error; left in a reader's goroutine it
		// would end the process and every invocation in flight.
		panic(p)
	}

	var errs []error
	for _, j := range jobs {
		if j.err != nil {
			errs = append(errs, newError(j.ref, j.fields, j.err, secret.ScrubberFrom(ctx)))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	values := make([]Resolved, len(refs))
	for i, j := range slot {
		values[i] = j.val
	}
	return values, nil
}

// get reads one secret from the vault whose normalized URL is vaultURL. The
// value is wrapped in a secret.Value at once.
func (r *Resolver) get(ctx context.Context, ref Ref, vaultURL string) (Resolved, error) {
	if err := ref.check(); err != nil {
		return Resolved{}, err
	}
	c, err := r.client(vaultURL)
	if err != nil {
		return Resolved{}, err
	}
	resp, err := c.GetSecret(ctx, ref.Name, ref.Version, nil)
	if err != nil {
		return Resolved{}, err
	}
	if resp.Value == nil {
		return Resolved{}, errNoValue
	}
	out := Resolved{Value: secret.New(*resp.Value)}
	if resp.ID != nil {
		out.Version = resp.ID.Version()
	}
	return out, nil
}

// client returns the client of the vault whose normalized URL is u,
// building it on first use.
func (r *Resolver) client(u string) (*azsecrets.Client, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.clients[u]; ok {
		return c, nil
	}
	opts := r.opts
	c, err := r.newClient(u, r.cred, &opts)
	if err != nil {
		return nil, err
	}
	r.clients[u] = c
	return c, nil
}
