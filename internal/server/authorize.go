package server

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/putsecrets/putsecrets/internal/config"
	"github.com/putsecrets/putsecrets/internal/principal"
	"github.com/putsecrets/putsecrets/internal/problem"
)

// authorize checks the HTTP caller against PUTSECRETS_REQUIRED_ROLE: with a
// role required, the App Service Authentication principal the platform put
// in the request must carry it. It returns nil when the caller may proceed,
// else the 403 problem to answer. It runs once the host's envelope is
// decoded (the caller's headers travel in it) and before the request
// document is parsed or validated, so a caller without the role learns
// nothing about its request.
func authorize(requiredRole string, headers http.Header) *problem.Problem {
	if requiredRole == "" {
		return nil
	}
	p, err := principal.FromHeaders(headers)
	switch {
	case errors.Is(err, principal.ErrMissing):
		return problem.New(http.StatusForbidden, fmt.Sprintf(
			"the caller must hold the app role %q (%s), and no App Service Authentication principal reached the "+
				"function: turn on App Service Authentication for the function app with \"require authentication\", "+
				"and call it with a Microsoft Entra token for the app (a Logic App: the HTTP action's managed identity "+
				"authentication, audience = the app's Application ID URI)",
			requiredRole, config.SettingRequiredRole))
	case err != nil:
		return problem.New(http.StatusForbidden, fmt.Sprintf(
			"the caller must hold the app role %q (%s), and the App Service Authentication principal could not be "+
				"read (%v): call the function through App Service Authentication only", requiredRole, config.SettingRequiredRole, err))
	case !p.HasRole(requiredRole):
		who := "the caller"
		if id := p.ObjectID(); id != "" {
			who = fmt.Sprintf("the caller (object ID %s)", id)
		}
		return problem.New(http.StatusForbidden, fmt.Sprintf(
			"%s does not hold the app role %q that %s requires: assign it the role on the function app's "+
				"enterprise application (az rest --method post --url "+
				"https://graph.microsoft.com/v1.0/servicePrincipals/{caller object ID}/appRoleAssignments, see docs/authorization.md "+
				"in the putsecrets repository), then let a new token be issued",
			who, requiredRole, config.SettingRequiredRole))
	}
	return nil
}
