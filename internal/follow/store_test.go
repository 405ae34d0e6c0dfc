package follow_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/putsecrets/putsecrets/internal/follow"
	"github.com/putsecrets/putsecrets/internal/state"
	"github.com/putsecrets/putsecrets/standin/azurite"
)

// counting counts the blob reads (GET or HEAD of one blob) and list calls it carries.
type counting struct {
	next         *http.Client
	reads, lists atomic.Int64
}

func (c *counting) Do(r *http.Request) (*http.Response, error) {
	switch {
	case r.URL.Query().Get("comp") == "list":
		c.lists.Add(1)
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		c.reads.Add(1)
	}
	return c.next.Do(r)
}

// sends records messages by queue.
type sends struct {
	mu sync.Mutex
	m  map[string][]*azservicebus.Message
}

func (s *sends) Send(_ context.Context, q string, m *azservicebus.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[q] = append(s.m[q], m)
	return nil
}

const host = "contoso-kv.vault.azure.net"

func spOf(i int) string { return fmt.Sprintf("%08x-0000-4000-8000-000000000000", i) }

// TestManyFollowersEventReadsOnlyItsFollowers keeps 1,000 states of which 3
// use the rotated secret: the event sends 3 requests and reads 3 states.
func TestManyFollowersEventReadsOnlyItsFollowers(t *testing.T) {
	t.Parallel()
	c := azurite.NewContainer(t)
	cnt := &counting{next: c.HTTPClient}
	st, err := state.New(c.URL, c.Credential, &state.Options{ClientOptions: azcore.ClientOptions{Transport: cnt}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	const n = 1000
	users := map[int]bool{3: true, n / 2: true, n - 2: true}
	start := time.Now()
	sem := make(chan struct{}, 16)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			refs := []state.Reference{{Field: "secrets[0].secretUri", Key: "BaseAddress", Vault: host, Name: fmt.Sprintf("other-%d", i)}}
			if users[i] {
				refs = append(refs, state.Reference{Field: "secrets[1].secretUri", Key: "SecretToken", Vault: host, Name: "scim-token"})
			}
			k := &state.Kept{ServicePrincipalID: spOf(i), Document: []byte(`{"servicePrincipalId":"` + spOf(i) + `","secrets":[]}`),
				References: refs, SavedAt: time.Now()}
			if err := st.Put(ctx, k); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("kept %d states in %v", n, time.Since(start).Round(time.Millisecond))

	s := &sends{m: map[string][]*azservicebus.Message{}}
	ev := &follow.Events{Store: st, Sender: s, Suffix: "vault.azure.net", AllowedVaults: []string{host}, RequestQueue: "requests"}
	cnt.reads.Store(0)
	cnt.lists.Store(0)
	body := []byte(`{"id":"ev-1000","eventType":"Microsoft.KeyVault.SecretNewVersionCreated","data":{"Id":"https://` + host +
		`/secrets/scim-token/ee059b2bb5bc48398a53b168c6cdcb10"}}`)
	res, err := ev.Handle(ctx, body)
	if err != nil {
		t.Fatal(err)
	}
	reads, lists := cnt.reads.Load(), cnt.lists.Load()
	t.Logf("one event among %d kept states: %d requests sent, %d blob reads, %d list calls", n, len(s.m["requests"]), reads, lists)
	if len(s.m["requests"]) != 3 || res.Sent != 3 {
		t.Errorf("sent %d requests (result %d), want 3", len(s.m["requests"]), res.Sent)
	}
	for i, m := range s.m["requests"] {
		if !users[spIndex(t, *m.SessionID)] {
			t.Errorf("request %d went to %s, which does not use the secret", i, *m.SessionID)
		}
	}
	if reads > 3 || lists > 1 {
		t.Errorf("%d blob reads and %d list calls for 3 followers; want at most 3 and 1", reads, lists)
	}
}

func spIndex(t *testing.T, sp string) int {
	var i int
	if _, err := fmt.Sscanf(sp, "%08x-", &i); err != nil {
		t.Fatalf("%s: %v", sp, err)
	}
	return i
}
