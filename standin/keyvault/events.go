package keyvault

// NewVersion describes a secret version SetSecret added, for OnNewVersion.
type NewVersion struct {
	// Vault is the vault's host ("contoso-kv.vault.azure.net").
	Vault string
	// Name is the secret's name as first set.
	Name    string
	Version string
}

// OnNewVersion makes SetSecret call fn after adding a version, outside the
// server's lock, as Key Vault publishes SecretNewVersionCreated to Event Grid
// (standin/eventgrid plays that part). nil turns it off.
func (s *Server) OnNewVersion(fn func(NewVersion)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onNewVersion = fn
}
