package main

import (
	"fmt"
	"log/slog"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/putsecrets/putsecrets/internal/config"
	"github.com/putsecrets/putsecrets/internal/credential"
	"github.com/putsecrets/putsecrets/internal/follow"
	"github.com/putsecrets/putsecrets/internal/state"
	"github.com/putsecrets/putsecrets/internal/transport"
)

// newStateStore builds the kept-state store of PUTSECRETS_STATE_URL with the
// app's credential, without network I/O; nil when no state store is
// configured (CONTRACT.md §8: follow is refused and the §8 functions say so).
func newStateStore(cfg *config.Config, getenv func(string) string) (*state.Store, error) {
	if cfg.StateURL == "" {
		return nil, nil
	}
	httpClient := transport.New() // follows no redirect, as every client of the app
	cred, _, err := credential.New(getenv, cfg.Cloud, cfg.ClientID, httpClient)
	if err != nil {
		return nil, fmt.Errorf("state store credential: %w", err)
	}
	st, err := state.New(cfg.StateURL, cred, &state.Options{ClientOptions: azcore.ClientOptions{Cloud: cfg.Cloud.SDK, Transport: httpClient}})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", config.SettingStateURL, err)
	}
	return st, nil
}

// newEvents builds the Key Vault events handler PutSecretsFromKeyVault and
// the worker share. sender may be nil (no Service Bus connection): events
// that need a message then fail, saying so.
func newEvents(cfg *config.Config, getenv func(string) string, log *slog.Logger, sender follow.Sender) (*follow.Events, error) {
	st, err := newStateStore(cfg, getenv)
	if err != nil {
		return nil, err
	}
	ev := &follow.Events{
		Logger: log, Sender: sender, Suffix: cfg.Cloud.KeyVaultSuffix, AllowedVaults: cfg.AllowedVaults,
		RequestQueue: cfg.Queue, ResultsQueue: cfg.ResultsQueue,
	}
	if st != nil {
		ev.Store = st // a nil *state.Store must not become a non-nil interface
	}
	return ev, nil
}
