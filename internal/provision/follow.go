package provision

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/putsecrets/putsecrets/internal/request"
	"github.com/putsecrets/putsecrets/internal/state"
)

// States keeps the desired states of followed service principals;
// *state.Store implements it.
type States interface {
	Get(ctx context.Context, servicePrincipalID string) (*state.Kept, error)
	Put(ctx context.Context, k *state.Kept) error
	Replace(ctx context.Context, k *state.Kept) (bool, error)
	Delete(ctx context.Context, servicePrincipalID string) error
}

// keep applies the request's follow to the kept state once the save (and
// the job follow-up) succeeded, and reports whether the document is now
// kept (docs/contract.md §8):
//
//   - follow: true keeps the document as given, with each reference's
//     resolved version, the time and Graph's request-id;
//   - follow: false forgets a kept state;
//   - absent: a kept state, if there is one, is replaced by this document,
//     so that it mirrors the last successful save (state.Store.Replace: a
//     write conditional on the state read, so a concurrent follow: false is
//     never undone); without a store, nothing.
//
// A dry run keeps nothing. A failure here is a *NotKeptError: the
// secrets were saved, and the retry that the queue's redelivery or the
// caller makes saves them again and keeps the state then.
func (s *Service) keep(ctx context.Context, req *request.Request, body []byte, versions []string, requestID string) (bool, error) {
	st := s.opts.States
	if req.DryRun || st == nil {
		return false, nil
	}
	id := req.ServicePrincipalID
	notKept := func(action string, err error) error {
		return &NotKeptError{RequestID: requestID, ServicePrincipalID: id, Action: action, Err: err}
	}
	switch req.Follow {
	case request.FollowOff:
		if err := st.Delete(ctx, id); err != nil {
			return false, notKept(ActionForget, err)
		}
		return false, nil
	case request.FollowAbsent:
		replaced, err := st.Replace(ctx, kept(req, body, versions, requestID))
		if err != nil {
			return false, notKept(ActionReplace, err)
		}
		return replaced, nil
	}
	if err := st.Put(ctx, kept(req, body, versions, requestID)); err != nil {
		return false, notKept(ActionKeep, err)
	}
	return true, nil
}

// kept is the desired state of a saved request: the document as given and,
// for each reference, where it was written, its key, vault host, name,
// pinned version and the version it resolved to.
func kept(req *request.Request, body []byte, versions []string, requestID string) *state.Kept {
	k := &state.Kept{
		ServicePrincipalID: req.ServicePrincipalID,
		Document:           body,
		SavedAt:            time.Now().UTC(),
		GraphRequestID:     requestID,
	}
	for i, e := range req.Secrets {
		if e.Ref == nil {
			continue
		}
		k.References = append(k.References, state.Reference{
			Field: e.Field, Key: e.Key, Vault: e.Ref.Host, Name: e.Ref.Name,
			Version: e.Ref.Version, Resolved: versions[i],
		})
	}
	return k
}

// refuseLiteralForFollowed refuses, before anything is resolved or saved, a
// request without follow that holds a literal value of a credential-bearing
// key (the policy allows those) for a service principal that is followed:
// its kept state would have to be replaced by a document holding a value,
// which a kept state never does. The caller sends follow: false to stop
// following, or references. Without such a literal nothing is read.
func (s *Service) refuseLiteralForFollowed(ctx context.Context, req *request.Request) error {
	st := s.opts.States
	if st == nil || req.Follow != request.FollowAbsent {
		return nil
	}
	var problems []request.Problem
	for _, e := range req.Secrets {
		if e.Ref == nil && request.IsCredential(e.Key) {
			problems = append(problems, request.Problem{Field: e.Field + ".value", Policy: true, Message: fmt.Sprintf(
				"service principal %s is followed, and a literal value of the credential key %s would replace its kept state, "+
					"which never holds a value; use a secretUri or an @Microsoft.KeyVault(…) reference, "+
					"or send follow: false to stop following", req.ServicePrincipalID, e.Key)})
		}
	}
	if len(problems) == 0 {
		return nil
	}
	_, err := st.Get(ctx, req.ServicePrincipalID)
	switch {
	case errors.Is(err, state.ErrNotFound):
		return nil
	case err != nil:
		return &NotKeptError{ServicePrincipalID: req.ServicePrincipalID, Action: ActionRead, Err: err}
	}
	return &request.Error{Problems: problems}
}
