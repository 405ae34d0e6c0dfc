package invariants

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// microsoftGraphAppID is Microsoft Graph's appId in every tenant.
const microsoftGraphAppID = "00000003-0000-0000-c000-000000000000"

// graphRoleIDs are the app role IDs (docs/platform.md §2) that must be looked
// up by value, never written down.
var graphRoleIDs = map[string]string{
	"18a4783c-866b-4cc7-a460-3d5e5662c884": "Application.ReadWrite.OwnedBy",
	"9b50c33d-700f-43b1-b2eb-87e89b703581": "Synchronization.ReadWrite.All",
	"19dbc75e-c2e2-444c-a770-ec69d8559fc7": "Directory.ReadWrite.All",
}

// CheckGraphPermissions checks infra/graph-permissions/, the azuread root module.
func CheckGraphPermissions(m *Module) []string {
	p := m.checkEveryModule()

	graph := m.Data["azuread_service_principal.microsoft_graph"]
	if graph == nil {
		return append(p, "no data.azuread_service_principal.microsoft_graph: the Graph service principal must be looked up")
	}
	if got := m.resolveString(attrExpr(graph, "client_id")); got != microsoftGraphAppID {
		p = append(p, fmt.Sprintf("data.azuread_service_principal.microsoft_graph: client_id resolves to %q, want %s", got, microsoftGraphAppID))
	}

	assign := m.Resource("azuread_app_role_assignment", "graph")
	if assign == nil {
		return append(p, "no azuread_app_role_assignment.graph: the identity gets no Graph permission")
	}
	if got := m.attrText(assign, "app_role_id"); !strings.HasPrefix(got, "data.azuread_service_principal.microsoft_graph.app_role_ids[") {
		p = append(p, fmt.Sprintf("azuread_app_role_assignment.graph: app_role_id = %s, want a lookup by value in data.azuread_service_principal.microsoft_graph.app_role_ids", got))
	}
	p = append(p, m.want("azuread_app_role_assignment.graph", assign, "principal_object_id", "var.identity_principal_id")...)
	p = append(p, m.want("azuread_app_role_assignment.graph", assign, "resource_object_id", "data.azuread_service_principal.microsoft_graph.object_id")...)

	// Least privilege by default: OwnedBy unless the user opts in.
	role := m.Locals["graph_app_role"]
	if role == nil {
		p = append(p, "local.graph_app_role is not declared")
	} else if got, want := m.Text(role.Expr.Range()), `var.grant_synchronization_readwrite_all ? "Synchronization.ReadWrite.All" : "Application.ReadWrite.OwnedBy"`; got != want {
		p = append(p, fmt.Sprintf("local.graph_app_role = %s, want %s", got, want))
	}
	if v := m.Variables["grant_synchronization_readwrite_all"]; v == nil {
		p = append(p, "variable grant_synchronization_readwrite_all is not declared")
	} else if d := Attr(v.Body, "default"); d == nil || m.Text(d.Expr.Range()) != "false" {
		p = append(p, "variable grant_synchronization_readwrite_all must default to false")
	}

	// OwnedBy works only on owned service principals: every target gets the
	// identity as owner, added on create and removed on destroy.
	owner := m.Resource("terraform_data", "service_principal_owner")
	if owner == nil {
		return append(p, "no terraform_data.service_principal_owner: the identity would own no target service principal")
	}
	if got := m.attrText(owner, "for_each"); got != "local.owned_service_principals" {
		p = append(p, fmt.Sprintf("terraform_data.service_principal_owner: for_each = %s, want local.owned_service_principals", got))
	}
	if l := m.Locals["owned_service_principals"]; l == nil || !strings.Contains(m.Text(l.Expr.Range()), "var.target_service_principal_ids") {
		p = append(p, "local.owned_service_principals must come from var.target_service_principal_ids")
	}
	var add, remove bool
	for _, prov := range Blocks(owner.Body, "provisioner") {
		cmd := m.attrText(prov, "command")
		when := m.attrText(prov, "when")
		switch {
		case when == "destroy" && strings.HasSuffix(cmd, ` remove"`):
			remove = true
		case when == "" && strings.HasSuffix(cmd, ` add"`):
			add = true
		}
		if !strings.Contains(cmd, "scripts/service-principal-owner.sh") {
			p = append(p, fmt.Sprintf("terraform_data.service_principal_owner: unexpected command %s", cmd))
		}
	}
	if !add || !remove {
		p = append(p, "terraform_data.service_principal_owner: needs an add provisioner and a destroy-time remove provisioner")
	}
	script := filepath.Join(m.Dir, "scripts", "service-principal-owner.sh")
	if fi, err := os.Stat(script); err != nil {
		p = append(p, fmt.Sprintf("owner script: %v", err))
	} else if fi.Mode()&0o111 == 0 {
		p = append(p, "owner script scripts/service-principal-owner.sh is not executable")
	}

	for _, name := range sortedKeys(m.files) {
		m.walkBody(m.files[name], "", nil, func(expr hclsyntax.Expression, _ map[string]bool) {
			_ = hclsyntax.VisitAll(expr, func(n hclsyntax.Node) hcl.Diagnostics {
				lit, ok := n.(*hclsyntax.LiteralValueExpr)
				if !ok || lit.Val.IsNull() || lit.Val.Type() != cty.String {
					return nil
				}
				if role, ok := graphRoleIDs[strings.ToLower(lit.Val.AsString())]; ok {
					p = append(p, fmt.Sprintf("%s: hard-coded app role ID of %s; look it up by value in app_role_ids", lit.Range(), role))
				}
				return nil
			})
		})
	}
	return p
}

// resolveString follows local references to a constant string, or returns "".
func (m *Module) resolveString(expr hclsyntax.Expression) string {
	for range 10 {
		if s, ok := LiteralString(expr); ok {
			return s
		}
		st, ok := expr.(*hclsyntax.ScopeTraversalExpr)
		if !ok || st.Traversal.RootName() != "local" || len(st.Traversal) != 2 {
			return ""
		}
		l := m.Locals[step(st.Traversal, 1)]
		if l == nil {
			return ""
		}
		expr = l.Expr
	}
	return ""
}
