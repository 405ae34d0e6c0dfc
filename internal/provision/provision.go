// Package provision does the product's one job: take a request document,
// resolve its Key Vault references with the app's identity, and store the
// complete set of secrets on the service principal with Microsoft Graph.
//
// The HTTP function, the Service Bus function and the worker command all call
// Service.Put; what differs between them (how the answer travels) lives with
// them.
package provision

import (
	"context"
	"errors"
	"time"

	"github.com/putsecrets/putsecrets/internal/graph"
	"github.com/putsecrets/putsecrets/internal/problem"
	"github.com/putsecrets/putsecrets/internal/request"
	"github.com/putsecrets/putsecrets/internal/vault"
)

// Outcome statuses of a successful Put.
const (
	StatusSaved  = "saved"
	StatusDryRun = "dryRun"
)

// Result is the success answer of CONTRACT.md §3. It never holds a value.
// On failure Put still returns what it learnt (service principal, keys) for
// the log line and the outcome message.
type Result struct {
	ServicePrincipalID string   `json:"servicePrincipalId"`
	Status             string   `json:"status"`
	APIVersion         string   `json:"apiVersion"`
	Keys               []string `json:"keys"`
	GraphRequestID     string   `json:"graphRequestId,omitempty"`
	DurationMs         int64    `json:"durationMs"`
}

// Service puts secrets. It is safe for concurrent use.
type Service struct {
	policy *request.Policy
	vault  *vault.Resolver
	graph  *graph.Client
}

// New returns a Service. Nothing here does network I/O.
func New(policy *request.Policy, resolver *vault.Resolver, graphClient *graph.Client) *Service {
	return &Service{policy: policy, vault: resolver, graph: graphClient}
}

// Policy returns the policy requests are validated against.
func (s *Service) Policy() *request.Policy { return s.policy }

// Put validates body, resolves its references and, unless it is a dry run,
// PUTs the secrets. Errors are for problem.From.
func (s *Service) Put(ctx context.Context, body []byte) (*Result, error) {
	start := time.Now()
	res := &Result{}
	defer func() { res.DurationMs = time.Since(start).Milliseconds() }()

	req, err := request.Parse(body, s.policy)
	if err != nil {
		return res, err
	}
	res.ServicePrincipalID, res.APIVersion = req.ServicePrincipalID, req.APIVersion
	res.Keys = make([]string, len(req.Secrets))
	for i, e := range req.Secrets {
		res.Keys[i] = e.Key
	}

	secrets, err := s.resolve(ctx, req)
	if err != nil {
		return res, err
	}
	if req.DryRun {
		res.Status = StatusDryRun
		return res, nil
	}
	put, err := s.graph.PutSecrets(ctx, req.APIVersion, req.ServicePrincipalID, secrets)
	res.GraphRequestID = put.RequestID
	if err != nil {
		return res, problem.During("Microsoft Graph", err)
	}
	res.Status = StatusSaved
	return res, nil
}

// resolve reads every Key Vault reference (each distinct secret once,
// concurrently) and returns the secrets in request order.
func (s *Service) resolve(ctx context.Context, req *request.Request) ([]graph.Secret, error) {
	out := make([]graph.Secret, len(req.Secrets))
	var refs []vault.Ref
	var at []int // at[i] is the entry of refs[i]
	for i, e := range req.Secrets {
		out[i] = graph.Secret{Key: e.Key, Value: e.Value}
		if e.Ref != nil {
			refs = append(refs, vault.Ref{VaultURL: e.Ref.VaultURL(), Vault: e.Ref.Vault, Name: e.Ref.Name, Version: e.Ref.Version})
			at = append(at, i)
		}
	}
	if len(refs) == 0 {
		return out, nil
	}
	values, err := s.vault.Resolve(ctx, refs)
	if err != nil {
		return nil, attachFields(err, refs, at, req)
	}
	for j, v := range values {
		out[at[j]].Value = v
	}
	return out, nil
}

// attachFields names, for each failed secret, every request field that
// referenced it.
func attachFields(err error, refs []vault.Ref, at []int, req *request.Request) error {
	fieldsOf := map[vault.Ref][]string{}
	for j, r := range refs {
		fieldsOf[r] = append(fieldsOf[r], req.Secrets[at[j]].Ref.Field)
	}
	leaves := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		leaves = j.Unwrap()
	}
	out := make([]error, 0, len(leaves))
	for _, leaf := range leaves {
		if ve, ok := leaf.(*vault.Error); ok {
			out = append(out, problem.AtFields(leaf, fieldsOf[ve.Ref]...))
			continue
		}
		out = append(out, problem.During("Key Vault", leaf))
	}
	return errors.Join(out...)
}
