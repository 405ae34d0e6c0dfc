// Package invariants checks the Terraform root modules under infra/ without
// Terraform, providers or Azure: it parses every .tf file with
// hashicorp/hcl and verifies the invariants the deployment relies on —
// every reference resolves, every app setting of docs/contract.md §5 is set, the
// identity has each data-plane role on its narrow scope, no key, SAS or
// secret-bearing connection string appears anywhere, and shared-key or local
// authentication stays off.
//
// It is a module of its own so that the handler's go.mod stays lean.
// `tofu validate` (make infra-validate) checks the same files against the
// real azurerm schema; this package is the fast tier that runs in make test.
package invariants
