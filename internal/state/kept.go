// Package state keeps the desired state of followed service principals
// (CONTRACT.md §8) in a blob container. It never stores a secret value.
//
// This file holds only the agreed types (prompts/state-api.md) so that the
// follow package compiles before the state branch lands; the state branch's
// package replaces it on merge.
package state

import (
	"encoding/json"
	"time"
)

// Reference is one Key Vault reference of a kept document.
type Reference struct {
	Field    string // where it was written, e.g. "secrets[1]"
	Key      string // the synchronizationSecret key, e.g. "SecretToken"
	Vault    string // the vault's host, lower-case, e.g. "contoso-kv.vault.azure.net"
	Name     string // the secret's name as written (Key Vault names are case-insensitive)
	Version  string // the version the document pins, "" when it follows the current one
	Resolved string // the version the last save read
}

// Kept is the desired state of one service principal.
type Kept struct {
	ServicePrincipalID string          // lower-case GUID
	Document           json.RawMessage // the request document exactly as given
	References         []Reference
	SavedAt            time.Time
	GraphRequestID     string
}
