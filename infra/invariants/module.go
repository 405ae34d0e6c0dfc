package invariants

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// Module is one Terraform root module: the blocks of all its .tf files.
type Module struct {
	Dir       string
	Resources map[string]*hclsyntax.Block // "type.name"
	Data      map[string]*hclsyntax.Block // "type.name"
	Variables map[string]*hclsyntax.Block
	Locals    map[string]*hclsyntax.Attribute
	Outputs   map[string]*hclsyntax.Block
	Modules   map[string]*hclsyntax.Block
	Providers []*hclsyntax.Block

	files map[string]*hclsyntax.Body // file name → body
	src   map[string][]byte          // file name → source
}

// Load parses every .tf file in dir (not below it).
func Load(dir string) (*Module, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no .tf files in %s", dir)
	}
	sort.Strings(names)
	m := &Module{
		Dir:       dir,
		Resources: map[string]*hclsyntax.Block{},
		Data:      map[string]*hclsyntax.Block{},
		Variables: map[string]*hclsyntax.Block{},
		Locals:    map[string]*hclsyntax.Attribute{},
		Outputs:   map[string]*hclsyntax.Block{},
		Modules:   map[string]*hclsyntax.Block{},
		files:     map[string]*hclsyntax.Body{},
		src:       map[string][]byte{},
	}
	for _, name := range names {
		src, err := os.ReadFile(name)
		if err != nil {
			return nil, err
		}
		f, diags := hclsyntax.ParseConfig(src, filepath.Base(name), hcl.InitialPos)
		if diags.HasErrors() {
			return nil, fmt.Errorf("parse %s: %w", name, diags)
		}
		body := f.Body.(*hclsyntax.Body)
		m.files[filepath.Base(name)] = body
		m.src[filepath.Base(name)] = src
		if err := m.add(body); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	return m, nil
}

// add records the top-level blocks of one file; a named block declared
// twice, or a block type Terraform does not have, is an error.
func (m *Module) add(body *hclsyntax.Body) error {
	named := map[string]map[string]*hclsyntax.Block{
		"resource": m.Resources, "data": m.Data, "variable": m.Variables, "output": m.Outputs, "module": m.Modules,
	}
	for _, b := range body.Blocks {
		key := strings.Join(b.Labels, ".")
		if blocks, ok := named[b.Type]; ok {
			if _, dup := blocks[key]; dup {
				return fmt.Errorf("%s %s declared twice", b.Type, key)
			}
			blocks[key] = b
			continue
		}
		switch b.Type {
		case "provider":
			m.Providers = append(m.Providers, b)
		case "locals":
			for name, a := range b.Body.Attributes {
				if _, ok := m.Locals[name]; ok {
					return fmt.Errorf("local.%s declared twice", name)
				}
				m.Locals[name] = a
			}
		case "terraform", "moved", "import", "removed", "check":
		default:
			return fmt.Errorf("unknown top-level block %q", b.Type)
		}
	}
	return nil
}

// Text is the source text of a node, e.g. "azurerm_user_assigned_identity.app.client_id".
func (m *Module) Text(r hcl.Range) string {
	src := m.src[r.Filename]
	if src == nil || r.End.Byte > len(src) {
		return ""
	}
	return string(src[r.Start.Byte:r.End.Byte])
}

// Resource returns the resource "typ.name", or nil.
func (m *Module) Resource(typ, name string) *hclsyntax.Block {
	return m.Resources[typ+"."+name]
}

// ResourcesOfType returns the resources of one type, sorted by name.
func (m *Module) ResourcesOfType(typ string) []*hclsyntax.Block {
	var out []*hclsyntax.Block
	for _, k := range sortedKeys(m.Resources) {
		if b := m.Resources[k]; b.Labels[0] == typ {
			out = append(out, b)
		}
	}
	return out
}

// Attr returns the attribute name of body, or nil.
func Attr(body *hclsyntax.Body, name string) *hclsyntax.Attribute {
	if body == nil {
		return nil
	}
	return body.Attributes[name]
}

// Blocks returns the nested blocks of one type.
func Blocks(body *hclsyntax.Body, typ string) []*hclsyntax.Block {
	var out []*hclsyntax.Block
	for _, b := range body.Blocks {
		if b.Type == typ {
			out = append(out, b)
		}
	}
	return out
}

// Literal evaluates expr without any variables: it succeeds for constants only.
func Literal(expr hclsyntax.Expression) (cty.Value, bool) {
	v, diags := expr.Value(nil)
	if diags.HasErrors() || !v.IsWhollyKnown() {
		return cty.NilVal, false
	}
	return v, true
}

// LiteralString is expr's value when it is a constant string.
func LiteralString(expr hclsyntax.Expression) (string, bool) {
	v, ok := Literal(expr)
	if !ok || v.IsNull() || v.Type() != cty.String {
		return "", false
	}
	return v.AsString(), true
}

// LiteralBool is expr's value when it is a constant bool.
func LiteralBool(expr hclsyntax.Expression) (bool, bool) {
	v, ok := Literal(expr)
	if !ok || v.IsNull() || v.Type() != cty.Bool {
		return false, false
	}
	return v.True(), true
}

// Entry is one key of an object that app_settings (or another map) is built from.
type Entry struct {
	Value hclsyntax.Expression
	// Conditional is true when the key sits in a branch of a conditional
	// expression: it is set only for some inputs.
	Conditional bool
}

// ObjectEntries lists the keys of a map built from object constructors,
// merge(), conditionals and locals, without evaluating anything. Parts it
// cannot see through are reported as errors, so a setting can't hide.
func (m *Module) ObjectEntries(expr hclsyntax.Expression) (map[string]Entry, []string) {
	out := map[string]Entry{}
	var problems []string
	var walk func(e hclsyntax.Expression, conditional bool, depth int)
	walk = func(e hclsyntax.Expression, conditional bool, depth int) {
		if depth > 20 {
			problems = append(problems, fmt.Sprintf("%s: locals nest too deep", e.Range()))
			return
		}
		switch e := e.(type) {
		case *hclsyntax.ObjectConsExpr:
			for _, item := range e.Items {
				key, ok := objectKey(item.KeyExpr)
				if !ok {
					problems = append(problems, fmt.Sprintf("%s: computed key %q", item.KeyExpr.Range(), m.Text(item.KeyExpr.Range())))
					continue
				}
				out[key] = Entry{Value: item.ValueExpr, Conditional: conditional}
			}
		case *hclsyntax.FunctionCallExpr:
			if e.Name != "merge" {
				problems = append(problems, fmt.Sprintf("%s: cannot see the keys of %s()", e.Range(), e.Name))
				return
			}
			for _, arg := range e.Args {
				walk(arg, conditional, depth+1)
			}
		case *hclsyntax.ConditionalExpr:
			walk(e.TrueResult, true, depth+1)
			walk(e.FalseResult, true, depth+1)
		case *hclsyntax.ParenthesesExpr:
			walk(e.Expression, conditional, depth+1)
		case *hclsyntax.ScopeTraversalExpr:
			if e.Traversal.RootName() == "local" && len(e.Traversal) == 2 {
				if a := m.Locals[attrName(e.Traversal[1])]; a != nil {
					walk(a.Expr, conditional, depth+1)
					return
				}
			}
			problems = append(problems, fmt.Sprintf("%s: cannot see the keys of %s", e.Range(), m.Text(e.Range())))
		default:
			problems = append(problems, fmt.Sprintf("%s: cannot see the keys of %s", e.Range(), m.Text(e.Range())))
		}
	}
	walk(expr, false, 0)
	return out, problems
}

func objectKey(e hclsyntax.Expression) (string, bool) {
	if k, ok := e.(*hclsyntax.ObjectConsKeyExpr); ok {
		if !k.ForceNonLiteral {
			if name := hcl.ExprAsKeyword(k.Wrapped); name != "" {
				return name, true
			}
		}
		e = k.Wrapped
	}
	return LiteralString(e)
}

func attrName(t hcl.Traverser) string {
	switch t := t.(type) {
	case hcl.TraverseAttr:
		return t.Name
	case hcl.TraverseRoot:
		return t.Name
	}
	return ""
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
