package invariants

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// secretText matches text that is, or carries, a credential: storage
// connection strings and keys, SAS tokens, Service Bus SAS connection strings,
// Application Insights instrumentation keys.
var secretText = regexp.MustCompile(`(?i)(AccountKey=|SharedAccessKey|SharedAccessSignature|[?&;]sig=|InstrumentationKey=|DefaultEndpointsProtocol=|UseDevelopmentStorage=)`)

// secretAttribute matches provider attributes that hold keys or
// secret-bearing connection strings.
var secretAttribute = regexp.MustCompile(`(?i)(access_key|primary_key|secondary_key|connection_string|instrumentation_key|insights_key|sas_token|sas_url|_sas$|^sas$|password|client_secret)`)

// allowedSecretishAttributes are attributes secretAttribute matches that hold
// no secret: an Application Insights connection string is an ingestion
// endpoint plus an instrumentation ID, accepted only with Entra auth when
// local authentication is off.
var allowedSecretishAttributes = map[string]bool{
	"azurerm_application_insights.connection_string": true,
	// The argument of a function app that takes that connection string.
	"application_insights_connection_string": true,
}

// secretResourceTypes are resource and data source types whose only purpose
// is to mint or read keys and SAS tokens.
var secretResourceTypes = regexp.MustCompile(`(authorization_rule|_sas$|_key$|_keys$|access_key|_password$|_secret$)`)

// CheckNoSecrets reports keys, SAS tokens and secret-bearing connection
// strings anywhere in the module: in literals (variable defaults included),
// in references to provider attributes, and as resources that mint them.
func (m *Module) CheckNoSecrets() []string {
	var problems []string
	for _, key := range sortedKeys(m.Resources) {
		if secretResourceTypes.MatchString(m.Resources[key].Labels[0]) {
			problems = append(problems, fmt.Sprintf("resource %s mints or holds a key/SAS", key))
		}
	}
	for _, key := range sortedKeys(m.Data) {
		if secretResourceTypes.MatchString(m.Data[key].Labels[0]) {
			problems = append(problems, fmt.Sprintf("data source %s reads a key/SAS", key))
		}
	}
	for _, kind := range []map[string]*hclsyntax.Block{m.Resources, m.Data} {
		for _, key := range sortedKeys(kind) {
			problems = append(problems, secretArguments(key, kind[key].Body)...)
		}
	}
	for _, name := range sortedKeys(m.files) {
		m.walkBody(m.files[name], "", nil, func(expr hclsyntax.Expression, _ map[string]bool) {
			problems = append(problems, m.secretsIn(expr)...)
		})
	}
	return problems
}

// secretArguments reports arguments and nested blocks that take a key or a
// secret-bearing connection string, e.g. storage_access_key or a
// connection_string block.
func secretArguments(where string, body *hclsyntax.Body) []string {
	var problems []string
	for _, name := range sortedKeys(body.Attributes) {
		// *_enabled arguments are switches (shared_access_key_enabled = false), not keys.
		if secretAttribute.MatchString(name) && !strings.HasSuffix(name, "_enabled") && !allowedSecretishAttributes[name] {
			problems = append(problems, fmt.Sprintf("%s: %s sets %s, a key or secret-bearing connection string", body.Attributes[name].SrcRange, where, name))
		}
	}
	for _, b := range body.Blocks {
		typ := b.Type
		if typ == "dynamic" && len(b.Labels) == 1 {
			typ = b.Labels[0]
		}
		if secretAttribute.MatchString(typ) {
			problems = append(problems, fmt.Sprintf("%s: %s has a %s block, a key or secret-bearing connection string", b.TypeRange, where, typ))
			continue
		}
		problems = append(problems, secretArguments(where+"."+typ, b.Body)...)
	}
	return problems
}

func (m *Module) secretsIn(expr hclsyntax.Expression) []string {
	var problems []string
	_ = hclsyntax.VisitAll(expr, func(n hclsyntax.Node) hcl.Diagnostics {
		lit, ok := n.(*hclsyntax.LiteralValueExpr)
		if !ok || lit.Val.IsNull() || lit.Val.Type() != cty.String {
			return nil
		}
		if s := lit.Val.AsString(); secretText.MatchString(s) {
			problems = append(problems, fmt.Sprintf("%s: literal carries a credential: %q", lit.Range(), redact(s)))
		}
		return nil
	})
	for _, t := range hclsyntax.Variables(expr) {
		typ, attr := referencedAttribute(t)
		if attr == "" || !secretAttribute.MatchString(attr) || allowedSecretishAttributes[typ+"."+attr] {
			continue
		}
		problems = append(problems, fmt.Sprintf("%s: %s reads a key or secret-bearing connection string", t.SourceRange(), traversalText(t)))
	}
	return problems
}

// referencedAttribute returns the resource or data source type and the
// attribute a reference reads, or "" for other references.
func referencedAttribute(t hcl.Traversal) (typ, attr string) {
	rest := t
	switch root := t.RootName(); {
	case root == "data" && len(t) > 2:
		typ, rest = step(t, 1), t[3:]
	case strings.Contains(root, "_") && len(t) > 1:
		typ, rest = root, t[2:]
	default:
		return "", ""
	}
	for _, s := range rest {
		if a, ok := s.(hcl.TraverseAttr); ok {
			return typ, a.Name
		}
	}
	return typ, ""
}

// redact keeps a finding readable without repeating a credential in test output.
func redact(s string) string {
	if len(s) > 24 {
		return s[:24] + "…"
	}
	return s
}
