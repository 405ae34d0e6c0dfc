package invariants

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// computed lists, per resource or data source type, the attributes the
// provider computes and this project reads. Arguments written in a block's
// body are known from the body itself. A type missing here, or an attribute
// missing from its list, is a finding: adding one is a deliberate act, and
// `tofu validate` checks the list against the real schema.
var computed = map[string][]string{
	"azurerm_application_insights":                      {"id", "connection_string", "app_id"},
	"azurerm_client_config":                             {"client_id", "object_id", "subscription_id", "tenant_id"},
	"azurerm_eventgrid_system_topic":                    {"id"},
	"azurerm_eventgrid_system_topic_event_subscription": {"id"},
	"azurerm_function_app_flex_consumption":             {"id", "default_hostname"},
	"azurerm_key_vault":                                 {"id", "vault_uri", "location"},
	"azurerm_log_analytics_workspace":                   {"id", "workspace_id"},
	"azurerm_resource_group":                            {"id"},
	"azurerm_role_assignment":                           {"id"},
	"azurerm_service_plan":                              {"id"},
	"azurerm_servicebus_namespace":                      {"id", "endpoint"},
	"azurerm_servicebus_queue":                          {"id"},
	"azurerm_storage_account":                           {"id", "primary_blob_endpoint", "primary_blob_host"},
	"azurerm_storage_container":                         {"id"},
	"azurerm_user_assigned_identity":                    {"id", "client_id", "principal_id", "tenant_id"},
	"azuread_app_role_assignment":                       {"id"},
	"azuread_service_principal":                         {"object_id", "app_role_ids", "display_name"},
	"terraform_data":                                    {"id", "input", "output"},
}

// builtinRoots are reference roots Terraform defines in some context.
var builtinRoots = map[string]bool{"path": true, "terraform": true, "each": true, "count": true, "self": true}

// CheckReferences reports every reference that does not resolve: undeclared
// variables, locals, resources and data sources, attributes a resource does
// not have, and indexing that does not match count/for_each.
func (m *Module) CheckReferences() []string {
	var problems []string
	for _, key := range sortedKeys(m.Resources) {
		if _, ok := computed[m.Resources[key].Labels[0]]; !ok {
			problems = append(problems, fmt.Sprintf("resource type %s has no entry in the test's computed-attribute table", m.Resources[key].Labels[0]))
		}
	}
	for _, key := range sortedKeys(m.Data) {
		if _, ok := computed[m.Data[key].Labels[0]]; !ok {
			problems = append(problems, fmt.Sprintf("data source type %s has no entry in the test's computed-attribute table", m.Data[key].Labels[0]))
		}
	}
	for _, name := range sortedKeys(m.files) {
		m.walkBody(m.files[name], "", nil, func(expr hclsyntax.Expression, scope map[string]bool) {
			for _, t := range hclsyntax.Variables(expr) {
				if err := m.resolve(t, scope); err != nil {
					problems = append(problems, fmt.Sprintf("%s: %s: %v", t.SourceRange(), traversalText(t), err))
				}
			}
		})
	}
	return problems
}

// notExpressions are attributes, per enclosing block type, that hold
// keywords or type constraints rather than expressions.
var notExpressions = map[string]map[string]bool{
	"variable":    {"type": true},
	"provisioner": {"when": true, "on_failure": true},
	"lifecycle":   {"ignore_changes": true},
}

// walkBody calls fn for every expression in body (a blockType block, "" for
// a file) and its nested blocks. scope holds extra reference roots: the
// iterator of an enclosing dynamic block.
func (m *Module) walkBody(body *hclsyntax.Body, blockType string, scope map[string]bool, fn func(hclsyntax.Expression, map[string]bool)) {
	for _, name := range sortedKeys(body.Attributes) {
		if !notExpressions[blockType][name] {
			fn(body.Attributes[name].Expr, scope)
		}
	}
	for _, b := range body.Blocks {
		inner := scope
		if b.Type == "dynamic" && len(b.Labels) == 1 {
			iter := b.Labels[0]
			if a := Attr(b.Body, "iterator"); a != nil {
				iter = hcl.ExprAsKeyword(a.Expr)
			}
			inner = map[string]bool{iter: true}
			for k := range scope {
				inner[k] = true
			}
			// for_each and labels are evaluated outside the iterator's scope.
			for _, name := range sortedKeys(b.Body.Attributes) {
				if name != "iterator" {
					fn(b.Body.Attributes[name].Expr, scope)
				}
			}
			for _, c := range Blocks(b.Body, "content") {
				m.walkBody(c.Body, b.Labels[0], inner, fn)
			}
			continue
		}
		m.walkBody(b.Body, b.Type, inner, fn)
	}
}

func (m *Module) resolve(t hcl.Traversal, scope map[string]bool) error {
	root := t.RootName()
	switch {
	case root == "var":
		if _, ok := m.Variables[step(t, 1)]; !ok {
			return fmt.Errorf("no variable %q is declared", step(t, 1))
		}
	case root == "local":
		if _, ok := m.Locals[step(t, 1)]; !ok {
			return fmt.Errorf("no local %q is declared", step(t, 1))
		}
	case root == "module":
		if _, ok := m.Modules[step(t, 1)]; !ok {
			return fmt.Errorf("no module %q is declared", step(t, 1))
		}
	case root == "data":
		key := step(t, 1) + "." + step(t, 2)
		b, ok := m.Data[key]
		if !ok {
			return fmt.Errorf("no data source %s is declared", key)
		}
		return checkInstance(b, t[3:])
	case builtinRoots[root] || scope[root]:
	case strings.Contains(root, "_"):
		key := root + "." + step(t, 1)
		b, ok := m.Resources[key]
		if !ok {
			return fmt.Errorf("no resource %s is declared", key)
		}
		return checkInstance(b, t[2:])
	default:
		return fmt.Errorf("unknown reference root %q", root)
	}
	return nil
}

// checkInstance checks what follows "type.name" in a reference to a resource
// or data source: an index exactly when it has count or for_each, then an
// attribute it has.
func checkInstance(b *hclsyntax.Block, rest hcl.Traversal) error {
	repeated := Attr(b.Body, "count") != nil || Attr(b.Body, "for_each") != nil
	if len(rest) == 0 {
		return nil // the whole object, e.g. in depends_on
	}
	switch rest[0].(type) {
	case hcl.TraverseIndex, hcl.TraverseSplat:
		if !repeated {
			return fmt.Errorf("%s.%s has neither count nor for_each and cannot be indexed", b.Labels[0], b.Labels[1])
		}
		rest = rest[1:]
	default:
		if repeated {
			return fmt.Errorf("%s.%s has count or for_each and needs an index", b.Labels[0], b.Labels[1])
		}
	}
	if len(rest) == 0 {
		return nil
	}
	a, ok := rest[0].(hcl.TraverseAttr)
	if !ok {
		return nil
	}
	if hasAttribute(b, a.Name) {
		return nil
	}
	return fmt.Errorf("%s has no attribute %q (known: %s)", b.Labels[0], a.Name, strings.Join(knownAttributes(b), ", "))
}

func hasAttribute(b *hclsyntax.Block, name string) bool {
	if _, ok := b.Body.Attributes[name]; ok {
		return true
	}
	for _, nb := range b.Body.Blocks {
		if nb.Type == name || (nb.Type == "dynamic" && len(nb.Labels) == 1 && nb.Labels[0] == name) {
			return true
		}
	}
	for _, c := range computed[b.Labels[0]] {
		if c == name {
			return true
		}
	}
	return false
}

func knownAttributes(b *hclsyntax.Block) []string {
	set := map[string]bool{}
	for name := range b.Body.Attributes {
		set[name] = true
	}
	for _, nb := range b.Body.Blocks {
		set[nb.Type] = true
	}
	for _, c := range computed[b.Labels[0]] {
		set[c] = true
	}
	out := sortedKeys(set)
	sort.Strings(out)
	return out
}

func step(t hcl.Traversal, i int) string {
	if i >= len(t) {
		return ""
	}
	return attrName(t[i])
}

func traversalText(t hcl.Traversal) string {
	var sb strings.Builder
	for i, s := range t {
		switch s := s.(type) {
		case hcl.TraverseRoot:
			sb.WriteString(s.Name)
		case hcl.TraverseAttr:
			sb.WriteString("." + s.Name)
		case hcl.TraverseIndex:
			sb.WriteString("[…]")
		case hcl.TraverseSplat:
			sb.WriteString("[*]")
		default:
			if i > 0 {
				sb.WriteString(".?")
			}
		}
	}
	return sb.String()
}
