package main

import (
	"fmt"

	"github.com/putsecrets/putsecrets/internal/config"
	"github.com/putsecrets/putsecrets/internal/follow"
	"github.com/putsecrets/putsecrets/internal/state"
)

// stateStore is the kept-state store of PUTSECRETS_STATE_URL on the app's
// credential and the shared HTTP client, built once without network I/O;
// nil when no state store is configured (docs/contract.md §8: follow is refused
// and the §8 functions say so).
func (w *wiring) stateStore() (*state.Store, error) {
	if w.cfg.StateURL == "" || w.state != nil {
		return w.state, nil
	}
	cred, err := w.credential("")
	if err != nil {
		return nil, fmt.Errorf("state store credential: %w", err)
	}
	st, err := state.New(w.cfg.StateURL, cred, &state.Options{ClientOptions: w.clientOptions()})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", config.SettingStateURL, err)
	}
	w.state = st
	return st, nil
}

// events is the Key Vault events handler PutSecretsFromKeyVault and the
// worker share. sender may be nil (no Service Bus connection): events that
// need a message then fail, saying so.
func (w *wiring) events(sender follow.Sender) (*follow.Events, error) {
	st, err := w.stateStore()
	if err != nil {
		return nil, err
	}
	cfg := w.cfg
	ev := &follow.Events{
		Logger: w.log, Sender: sender, Suffix: cfg.Cloud.KeyVaultSuffix, AllowedVaults: cfg.AllowedVaults,
		RequestQueue: cfg.Queue, ResultsQueue: cfg.ResultsQueue,
	}
	if st != nil {
		ev.Store = st // a nil *state.Store must not become a non-nil interface
	}
	return ev, nil
}
