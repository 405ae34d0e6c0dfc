// Package follow makes kept desired states follow Key Vault (docs/contract.md §8):
// it turns Key Vault events and reconcile runs into ordinary requests on the
// request queue (Reapply), with MessageIds derived from what caused them
// (MessageID) so that Service Bus duplicate detection drops a repeat, and it
// reports secrets about to expire.
//
// It never reads a secret value: a kept document holds references only, and
// a re-applied request is resolved by the usual PutSecretsFromQueue path.
package follow
