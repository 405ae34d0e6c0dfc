package request

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/putsecrets/putsecrets/internal/graph"
	"github.com/putsecrets/putsecrets/internal/secret"
)

// maxProblems caps the problems one document can produce; a 64 KiB body of
// mistakes would otherwise make a response many times its size.
const maxProblems = 100

// The fields each object allows, in the order messages list them.
var (
	topFields      = [...]string{"servicePrincipalId", "secrets", "apiVersion", "dryRun", "validate", "job", "follow"}
	entryFields    = [...]string{"key", "value", "secretUri"}
	validateFields = [...]string{"templateId", "jobId"}
	jobFields      = [...]string{"id", "action", "resetScope"}
	resetScopes    = []string{"Watermark", "Escrows", "QuarantineState", "Full", "ConnectorDataStore"}
)

var bom = []byte("\xEF\xBB\xBF")

// Parse reads and validates a request document against the policy p (nil
// is the zero Policy). The error, when not nil, is an *Error holding every
// problem found, sorted by where its field appears; when every problem is a
// policy refusal, Error.PolicyOnly reports it.
func Parse(body []byte, p *Policy) (*Request, error) {
	if p == nil {
		p = &Policy{}
	}
	if len(body) > MaxBodyBytes {
		return nil, &Error{Problems: []Problem{{
			Message: fmt.Sprintf("the body is larger than %d bytes (64 KiB); send at most that", MaxBodyBytes),
		}}}
	}
	body = bytes.TrimPrefix(body, bom)
	if !utf8.Valid(body) {
		return nil, &Error{Problems: []Problem{{Message: "the body is not valid UTF-8; send JSON encoded as UTF-8"}}}
	}
	ps := parser{l: lexer{data: body}, policy: p}
	ps.suffix, ps.suffixErr = normalizeSuffix(p.KeyVaultSuffix)
	ps.document()
	if err := ps.error(); err != nil {
		return nil, err
	}
	req := ps.req
	if req.APIVersion == "" {
		req.APIVersion = p.apiVersion()
	}
	return &req, nil
}

// parser walks one document, collecting the Request and its problems.
type parser struct {
	l         lexer
	policy    *Policy
	suffix    string
	suffixErr error
	problems  []problemAt
	dropped   int
	req       Request
	// keyEntry[i] is 1 + the index of the entry that set keyNames[i].
	keyEntry [len(keyNames)]int
	// literalCredentials are the literal values of credential-bearing keys
	// that the policy allowed; follow: true refuses them all the same.
	literalCredentials []literalAt
}

// literalAt is where a literal value of a credential-bearing key was
// written.
type literalAt struct {
	pos   int
	field string
	key   string
}

// problemAt is a problem and the byte offset it sorts by.
type problemAt struct {
	pos int
	Problem
}

// add records a problem at pos. After a syntax error it records nothing:
// what follows the error was never read.
func (p *parser) add(pos int, field, msg string, policy bool) {
	if p.l.err != nil {
		return
	}
	if len(p.problems) >= maxProblems {
		p.dropped++
		return
	}
	p.problems = append(p.problems, problemAt{pos, Problem{Field: field, Message: msg, Policy: policy}})
}

// room reports whether add would record a problem now.
func (p *parser) room() bool { return p.l.err == nil && len(p.problems) < maxProblems }

// error returns the problems as an *Error, or nil when there are none.
func (p *parser) error() error {
	if se := p.l.err; se != nil {
		line, col := lineColumn(p.l.data, se.pos)
		p.problems = append(p.problems, problemAt{se.pos, Problem{
			Message: fmt.Sprintf("the body is not valid JSON: %s (line %d, column %d)", se.msg, line, col),
		}})
	}
	if len(p.problems) == 0 {
		return nil
	}
	slices.SortStableFunc(p.problems, func(a, b problemAt) int { return a.pos - b.pos })
	e := &Error{Problems: make([]Problem, 0, len(p.problems)+1)}
	for _, pa := range p.problems {
		e.Problems = append(e.Problems, pa.Problem)
	}
	if p.dropped > 0 {
		e.Problems = append(e.Problems, Problem{
			Message: fmt.Sprintf("%d more problems are not listed; fix these first", p.dropped),
		})
	}
	return e
}

// document reads the top-level object.
func (p *parser) document() {
	l := &p.l
	if l.atEnd() {
		p.add(0, "", "the body is empty; send one JSON object", false)
		return
	}
	switch c := l.peek(); {
	case !startsValue(c):
		p.add(l.pos, "", "the body is not JSON; send one JSON object", false)
		return
	case c != '{':
		p.add(l.pos, "", "the body must be one JSON object, not "+describe(c), false)
		return
	}
	l.pos++
	var seen [len(topFields)]bool
	p.members("", topFields[:], seen[:], func(name string, pos int) {
		switch name {
		case "servicePrincipalId":
			p.servicePrincipalID(pos)
		case "secrets":
			p.secrets(pos)
		case "apiVersion":
			p.apiVersion(pos)
		case "dryRun":
			p.req.DryRun, _ = p.boolean(pos, "", "dryRun")
		case "validate":
			p.validate(pos)
		case "job":
			p.job(pos)
		case "follow":
			p.follow(pos)
		}
	})
	end := l.pos
	if l.err != nil {
		return
	}
	if !seen[0] {
		p.add(end, "servicePrincipalId", "missing; set the object ID (a GUID) of the enterprise application's service principal", false)
	}
	if !seen[1] {
		p.add(end, "secrets", fmt.Sprintf("missing; set 1 to %d entries of key and value or secretUri", MaxSecrets), false)
	}
	if !l.atEnd() {
		p.add(l.pos, "", "the body holds more after the JSON object; send exactly one object", false)
	}
	if p.req.Follow == FollowOn {
		for _, c := range p.literalCredentials {
			p.add(c.pos, c.field, "a literal value is refused for the credential key "+c.key+" with follow: true, because a kept state never holds a value; use a secretUri or an @Microsoft.KeyVault(…) reference", true)
		}
	}
}

// follow reads the follow field. Setting it either way needs a store for
// kept states.
func (p *parser) follow(pos int) {
	v, ok := p.boolean(pos, "", "follow")
	if !ok {
		return
	}
	if v {
		p.req.Follow = FollowOn
	} else {
		p.req.Follow = FollowOff
	}
	if !p.policy.StateStore {
		p.add(pos, "follow", "this deployment keeps no desired states: PUTSECRETS_STATE_URL names no blob container (and the host's storage gives none); ask its operators to set it, or omit follow", true)
	}
}

// once marks a field seen and reports true the first time; later it reports
// the duplicate, skips its value and reports false.
func (p *parser) once(seen *bool, pos int, prefix, name string) bool {
	if *seen {
		p.add(pos, join(prefix, name), "duplicate field; send each field once", false)
		p.l.value(0)
		return false
	}
	*seen = true
	return true
}

// members reads the members of the object whose "{" was consumed: each one
// fields names is read by read, once (seen records which were; a repeat is
// reported and skipped); any other is reported as unknown and skipped.
func (p *parser) members(prefix string, fields []string, seen []bool, read func(name string, pos int)) {
	for n := 0; ; n++ {
		name, pos, ok := p.l.nextMember(n)
		if !ok {
			return
		}
		i := fieldIndex(fields, name)
		switch {
		case i < 0:
			p.unknown(pos, prefix, name, fields)
		case p.once(&seen[i], pos, prefix, fields[i]):
			read(fields[i], pos)
		}
	}
}

// fieldIndex is the index of name in fields, or -1.
func fieldIndex(fields []string, name []byte) int {
	for i, f := range fields {
		if string(name) == f {
			return i
		}
	}
	return -1
}

// unknown reports a member that the object does not allow and skips its
// value.
func (p *parser) unknown(pos int, prefix string, name []byte, allowed []string) {
	msg := "unknown field; allowed: " + strings.Join(allowed, ", ")
	for _, a := range allowed {
		if equalFoldASCII(name, a) {
			msg = "unknown field; field names are case-sensitive: write " + a
		}
	}
	p.add(pos, join(prefix, fieldName(name)), msg, false)
	p.l.value(0)
}

// join appends a member to a field path.
func join(prefix, name string) string {
	if prefix == "" || strings.HasPrefix(name, "[") {
		return prefix + name
	}
	return prefix + "." + name
}

// fieldName renders a member name for a field path: plain when it is a
// short identifier, else quoted and bracketed, cut to 64 bytes.
func fieldName(name []byte) string {
	plain := len(name) > 0 && len(name) <= 64
	for _, c := range name {
		if !(isLetter(c) || isDigit(c) || c == '_' || c == '-' || c == '$') {
			plain = false
			break
		}
	}
	if plain {
		return string(name)
	}
	s := string(name)
	if len(s) > 64 {
		cut := 64
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return "[" + strconv.Quote(s) + "]"
}

// str reads a string member value; anything else is reported as "must be
// <what>, not <kind>" and skipped.
func (p *parser) str(pos int, prefix, name, what string) ([]byte, bool) {
	if p.l.peek() != '"' {
		p.wrongType(pos, join(prefix, name), what)
		return nil, false
	}
	return p.l.str()
}

// wrongType reports that the value at the lexer is not what the field
// wants, "must be <what>, not <kind>", and skips it. A value that is not
// JSON at all is left to the syntax error.
func (p *parser) wrongType(pos int, field, what string) {
	if c := p.l.peek(); startsValue(c) {
		p.add(pos, field, "must be "+what+", not "+describe(c), false)
	}
	p.l.value(0)
}

// boolean reads a true or false member value.
func (p *parser) boolean(pos int, prefix, name string) (v, ok bool) {
	switch p.l.peek() {
	case 't':
		return true, p.l.literal("true")
	case 'f':
		return false, p.l.literal("false")
	default:
		p.wrongType(pos, join(prefix, name), "true or false")
		return false, false
	}
}

// object consumes the "{" of an object member value, or reports the value
// as "must be <what>" and skips it.
func (p *parser) object(pos int, prefix, name, what string) bool {
	if p.l.peek() != '{' {
		p.wrongType(pos, join(prefix, name), what)
		return false
	}
	p.l.pos++
	return true
}

func (p *parser) servicePrincipalID(pos int) {
	const field = "servicePrincipalId"
	const want = "; send the object ID of the enterprise application's service principal, e.g. 6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c"
	b, ok := p.str(pos, "", field, "a string holding a GUID")
	if !ok {
		return
	}
	id, ok := parseGUID(b)
	switch {
	case !ok:
		p.add(pos, field, "must be a GUID of 32 hexadecimal digits as 8-4-4-4-12, without braces"+want, false)
		return
	case id == "00000000-0000-0000-0000-000000000000":
		p.add(pos, field, "must not be the nil GUID"+want, false)
		return
	}
	p.req.ServicePrincipalID = id
	if len(p.policy.AllowedServicePrincipals) > 0 && !p.policy.AllowedServicePrincipals[id] {
		p.add(pos, field, "service principal "+id+" is not in PUTSECRETS_ALLOWED_SERVICE_PRINCIPALS: this deployment may not write to it; ask its operators to allow it", true)
	}
}

// parseGUID accepts 8-4-4-4-12 hexadecimal digits in either case and
// returns them lowercase.
func parseGUID[T string | []byte](b T) (string, bool) {
	if len(b) != 36 {
		return "", false
	}
	for i := range len(b) {
		switch c := b[i]; i {
		case 8, 13, 18, 23:
			if c != '-' {
				return "", false
			}
		default:
			if !isHex(c) {
				return "", false
			}
		}
	}
	return toLowerASCII(string(b)), true
}

func (p *parser) apiVersion(pos int) {
	b, ok := p.str(pos, "", "apiVersion", `"v1.0" or "beta"`)
	if !ok {
		return
	}
	v, ok := graph.CanonicalAPIVersion(string(b))
	if !ok {
		p.add(pos, "apiVersion", `must be "v1.0" or "beta"; omit it for the deployment's default`, false)
		return
	}
	p.req.APIVersion = v
}

func (p *parser) secrets(pos int) {
	l := &p.l
	if l.peek() != '[' {
		p.wrongType(pos, "secrets", fmt.Sprintf("an array of 1 to %d entries", MaxSecrets))
		return
	}
	l.pos++
	n := 0
	for ; ; n++ {
		epos, ok := l.nextElement(n)
		if !ok {
			break
		}
		p.entry(n, epos)
	}
	if l.err != nil {
		return
	}
	switch {
	case n == 0:
		p.add(pos, "secrets", fmt.Sprintf("is empty; send 1 to %d entries", MaxSecrets), false)
	case n > MaxSecrets:
		p.add(pos, "secrets", fmt.Sprintf("holds %d entries; send at most %d", n, MaxSecrets), false)
	}
}

// entryFieldNames holds "secrets[0]" … "secrets[63]", so that valid entries
// cost no allocation for their Field.
var entryFieldNames = func() (names [MaxSecrets]string) {
	for i := range names {
		names[i] = "secrets[" + strconv.Itoa(i) + "]"
	}
	return names
}()

// entryField returns "secrets[i]".
func entryField(i int) string {
	if i < len(entryFieldNames) {
		return entryFieldNames[i]
	}
	return "secrets[" + strconv.Itoa(i) + "]"
}

// literal is a value member as read: its Graph string form and its kind.
type literal struct {
	text   string
	str    bool // a JSON string (may be a Key Vault reference)
	object bool // a JSON object, text compacted
}

// entry reads secrets[i], which starts at pos.
func (p *parser) entry(i, pos int) {
	l := &p.l
	prefix := entryField(i)
	if !p.object(pos, "", prefix, `an object {"key": …, "value": …} or {"key": …, "secretUri": …}`) {
		return
	}
	var (
		seen                     [len(entryFields)]bool
		keyPos, valuePos, uriPos int
		key, uri                 []byte
		keyOK, valueOK, uriOK    bool
		lit                      literal
	)
	p.members(prefix, entryFields[:], seen[:], func(name string, mpos int) {
		switch name {
		case "key":
			keyPos = mpos
			key, keyOK = p.str(mpos, prefix, "key", "a string naming a synchronizationSecret, e.g. BaseAddress")
		case "value":
			valuePos = mpos
			lit, valueOK = p.value(mpos, prefix)
		case "secretUri":
			uriPos = mpos
			if l.peek() == '"' {
				uri, uriOK = l.str()
			} else {
				p.wrongType(mpos, join(prefix, "secretUri"), "a string "+uriForm(p.suffix))
			}
		}
	})
	end := l.pos
	if l.err != nil {
		return
	}

	e := Entry{Field: prefix}
	ki := -1
	switch {
	case !seen[0]:
		p.add(end, join(prefix, "key"), "missing; set one of Graph's synchronizationSecret names, e.g. BaseAddress", false)
	case keyOK:
		ki = p.key(i, keyPos, prefix, key)
	}
	if ki >= 0 {
		e.Key = keyNames[ki]
	}
	switch {
	case seen[1] && seen[2]:
		p.add(end, prefix, "has both value and secretUri; set exactly one", false)
	case !seen[1] && !seen[2]:
		p.add(end, prefix, "has neither value nor secretUri; set exactly one", false)
	}

	if uriOK {
		ref, err := p.secretURI(string(uri))
		p.setRef(&e, uriPos, join(prefix, "secretUri"), ref, err)
	}
	if valueOK {
		if lit.str && isReference(lit.text) {
			ref, err := p.reference(lit.text)
			p.setRef(&e, valuePos, join(prefix, "value"), ref, err)
		} else {
			p.checkLiteral(valuePos, prefix, ki, lit)
			e.Value = secret.New(lit.text)
		}
	}
	if p.req.Secrets == nil {
		p.req.Secrets = make([]Entry, 0, 8)
	}
	p.req.Secrets = append(p.req.Secrets, e)
}

// setRef makes ref, read from field at pos, e's reference once the vault
// allow-list admits it; err, when set, is what is wrong with the field instead.
func (p *parser) setRef(e *Entry, pos int, field string, ref Reference, err error) {
	if err != nil {
		p.add(pos, field, err.Error(), false)
		return
	}
	ref.Field = field
	p.allowed(pos, &ref)
	e.Ref = &ref
}

// key resolves the key of entry i, reporting unknown and repeated names.
func (p *parser) key(i, pos int, prefix string, key []byte) int {
	ki := keyIndex(key)
	if ki < 0 {
		msg := "unknown key; use one of Graph's 45 synchronizationSecret names, e.g. BaseAddress, SecretToken"
		switch {
		case equalFoldASCII(key, keyNames[0]):
			msg = "the key None names no secret; use one of Graph's synchronizationSecret names, e.g. BaseAddress, SecretToken"
		case p.room():
			// Suggestions cost edit distances to 44 names: only for
			// problems that will be shown, so that a body of unknown
			// keys cannot buy much CPU.
			if s := suggestKey(string(key)); s != "" {
				msg = "unknown key; did you mean " + s + "?"
			}
		}
		p.add(pos, join(prefix, "key"), msg, false)
		return -1
	}
	if first := p.keyEntry[ki]; first != 0 {
		p.add(pos, join(prefix, "key"), fmt.Sprintf("duplicate key %s: secrets[%d] already sets it (keys match case-insensitively); send each key once", keyNames[ki], first-1), false)
		return ki
	}
	p.keyEntry[ki] = i + 1
	return ki
}

// value reads a value member: a string, boolean, number or object.
func (p *parser) value(pos int, prefix string) (literal, bool) {
	l := &p.l
	const what = "; send a string, boolean, number or object, or use secretUri"
	switch c := l.peek(); c {
	case '"':
		b, ok := l.str()
		return literal{text: string(b), str: true}, ok
	case 't':
		return literal{text: "true"}, l.literal("true")
	case 'f':
		return literal{text: "false"}, l.literal("false")
	case '{':
		start := l.pos
		dup := l.value(0)
		if l.err != nil {
			return literal{}, false
		}
		if dup {
			p.add(pos, join(prefix, "value"), "holds an object that repeats a member name; send each name once", false)
			return literal{}, false
		}
		var buf bytes.Buffer
		buf.Grow(l.pos - start)
		if err := json.Compact(&buf, l.data[start:l.pos]); err != nil {
			// The lexer accepted it, so this is a bug; say nothing of the text.
			p.add(pos, join(prefix, "value"), "holds an object that cannot be compacted", false)
			return literal{}, false
		}
		return literal{text: buf.String(), object: true}, true
	case 'n', '[':
		p.add(pos, join(prefix, "value"), "must not be "+describe(c)+what, false)
		l.value(0)
		return literal{}, false
	}
	if c := l.peek(); c == '-' || isDigit(c) {
		b, ok := l.number()
		return literal{text: string(b)}, ok
	}
	l.value(0) // fails: not a value
	return literal{}, false
}

// checkLiteral applies the rules for a literal value of the key keyNames[ki]
// in the entry prefix (ki < 0: unknown key, nothing to check).
func (p *parser) checkLiteral(pos int, prefix string, ki int, lit literal) {
	if ki < 0 {
		return
	}
	key := keyNames[ki]
	switch {
	case !credentialKeys[key]:
	case !p.policy.AllowLiteralCredentials:
		p.add(pos, join(prefix, "value"), "a literal value is refused for the credential key "+key+"; use a secretUri or an @Microsoft.KeyVault(…) reference", true)
	default:
		p.literalCredentials = append(p.literalCredentials, literalAt{pos, join(prefix, "value"), key})
	}
	if key == syncNotificationSettings && !lit.object && !(lit.str && holdsObject(lit.text)) {
		p.add(pos, join(prefix, "value"), "must be a JSON object for SyncNotificationSettings, or a string holding one; Graph refuses anything else, \"\" included", false)
	}
}

// holdsObject reports whether s is one JSON object with unique member names.
func holdsObject(s string) bool {
	l := lexer{data: []byte(s)}
	if l.peek() != '{' {
		return false
	}
	dup := l.value(0)
	return l.err == nil && !dup && l.atEnd()
}

func (p *parser) secretURI(uri string) (Reference, error) {
	if p.suffixErr != nil {
		return Reference{}, p.suffixErr
	}
	return parseSecretURI(uri, p.suffix)
}

func (p *parser) reference(value string) (Reference, error) {
	if p.suffixErr != nil {
		return Reference{}, p.suffixErr
	}
	return parseReference(strings.TrimSpace(value)[len(kvPrefix):], p.suffix)
}

// allowed refuses a reference to a vault outside the policy.
func (p *parser) allowed(pos int, ref *Reference) {
	if !p.policy.AllowedVaults[ref.Host] {
		p.add(pos, ref.Field, fmt.Sprintf("vault %q is not in PUTSECRETS_ALLOWED_VAULTS", ref.Vault), true)
	}
}

func (p *parser) validate(pos int) {
	const prefix = "validate"
	if !p.object(pos, "", prefix, "an object with templateId or jobId") {
		return
	}
	l := &p.l
	var (
		v       Validate
		seen    [len(validateFields)]bool
		lastPos int
	)
	p.members(prefix, validateFields[:], seen[:], func(name string, mpos int) {
		switch name {
		case "templateId":
			v.TemplateID, _ = p.identifier(mpos, prefix, "templateId", checkTemplateID)
			lastPos = mpos
		case "jobId":
			v.JobID, _ = p.identifier(mpos, prefix, "jobId", checkJobID)
			lastPos = mpos
		}
	})
	switch {
	case seen[0] && seen[1]:
		p.add(lastPos, prefix, "has both templateId and jobId; set exactly one", false)
	case !seen[0] && !seen[1]:
		p.add(l.pos, prefix, "has neither templateId nor jobId; set exactly one", false)
	}
	p.req.Validate = &v
}

func (p *parser) job(pos int) {
	const prefix = "job"
	if !p.object(pos, "", prefix, `an object {"id": …, "action": "start" or "restart"}`) {
		return
	}
	l := &p.l
	var (
		j                 Job
		seen              [len(jobFields)]bool
		actionOK, scopeOK bool
		scopePos          int
		scope             []byte
	)
	p.members(prefix, jobFields[:], seen[:], func(name string, mpos int) {
		switch name {
		case "id":
			j.ID, _ = p.identifier(mpos, prefix, "id", checkJobID)
		case "action":
			b, ok := p.str(mpos, prefix, "action", `"start" or "restart"`)
			switch {
			case !ok:
			case equalFoldASCII(b, JobStart):
				j.Action, actionOK = JobStart, true
			case equalFoldASCII(b, JobRestart):
				j.Action, actionOK = JobRestart, true
			default:
				p.add(mpos, join(prefix, "action"), `must be "start" or "restart"`, false)
			}
		case "resetScope":
			scopePos = mpos
			scope, scopeOK = p.str(mpos, prefix, "resetScope", "a string such as \""+DefaultResetScope+"\"")
		}
	})
	end := l.pos
	if !seen[0] {
		p.add(end, join(prefix, "id"), "missing; set the synchronization job ID", false)
	}
	if !seen[1] {
		p.add(end, join(prefix, "action"), `missing; set "start" or "restart"`, false)
	}
	if actionOK && j.Action == JobRestart {
		j.ResetScope = DefaultResetScope
	}
	if seen[2] {
		switch {
		case actionOK && j.Action != JobRestart:
			p.add(scopePos, join(prefix, "resetScope"), `is allowed only with action "restart"; remove it or restart the job`, false)
		case scopeOK:
			if s, err := parseResetScope(string(scope)); err != nil {
				p.add(scopePos, join(prefix, "resetScope"), err.Error(), false)
			} else {
				j.ResetScope = s
			}
		}
	}
	p.req.Job = &j
}

// identifier reads a template or job ID and checks it with check (see ids.go).
func (p *parser) identifier(pos int, prefix, name string, check func([]byte) string) (string, bool) {
	b, ok := p.str(pos, prefix, name, "a string")
	if !ok {
		return "", false
	}
	if msg := check(b); msg != "" {
		p.add(pos, join(prefix, name), msg, false)
		return "", false
	}
	return string(b), true
}

// parseResetScope reads a comma-separated subset of resetScopes, in any
// ASCII casing, and returns it canonical, joined by ", ", in the order
// written.
func parseResetScope(s string) (string, error) {
	const list = "Watermark, Escrows, QuarantineState, Full, ConnectorDataStore"
	var out []string
	for n := 1; ; n++ {
		item, rest, more := strings.Cut(s, ",")
		item = strings.TrimSpace(item)
		if item == "" {
			return "", fmt.Errorf("item %d is empty; send a comma-separated list of %s", n, list)
		}
		i := slices.IndexFunc(resetScopes, func(r string) bool { return equalFoldASCII(item, r) })
		if i < 0 {
			return "", fmt.Errorf("item %d is not one of %s", n, list)
		}
		if slices.Contains(out, resetScopes[i]) {
			return "", fmt.Errorf("names %s twice; send each scope once", resetScopes[i])
		}
		out = append(out, resetScopes[i])
		if !more {
			return strings.Join(out, ", "), nil
		}
		s = rest
	}
}
