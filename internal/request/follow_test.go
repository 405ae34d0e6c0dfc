package request

import "testing"

func withFollow(r *Request, f Follow) *Request {
	r.Follow = f
	return r
}

func TestParseFollow(t *testing.T) {
	t.Parallel()
	ref := `{"key": "SecretToken", "secretUri": "https://contoso-kv.vault.azure.net/secrets/scim-token"}`
	refEntry := kvRef("SecretToken", "secrets[1]", "scim-token", "")
	password := `{"key": "Password", "value": "hunter2"}`
	lenient := func(p *Policy) { p.AllowLiteralCredentials = true }
	noStore := func(p *Policy) { p.StateStore = false }
	const refused = "with follow: true, because a kept state never holds a value"
	runParseCases(t, []parseCase{
		{name: "absent", body: doc("", base, ref), want: request(baseEntry("secrets[0]"), refEntry)},
		{name: "true", body: doc(`"follow": true`, base, ref), want: withFollow(request(baseEntry("secrets[0]"), refEntry), FollowOn)},
		{name: "false", body: doc(`"follow": false`, base, ref), want: withFollow(request(baseEntry("secrets[0]"), refEntry), FollowOff)},
		{name: "before the secrets", body: `{"follow": true, "servicePrincipalId": "` + spid + `", "secrets": [` + base + `]}`,
			want: withFollow(request(baseEntry("secrets[0]")), FollowOn)},
		{name: "null", body: doc(`"follow": null`, base), probs: []prob{{"follow", "must be true or false, not null", false}}},
		{name: "string", body: doc(`"follow": "true"`, base), probs: []prob{{"follow", "must be true or false, not a string", false}}},
		{name: "number", body: doc(`"follow": 1`, base), probs: []prob{{"follow", "must be true or false, not a number", false}}},
		{name: "object", body: doc(`"follow": {}`, base), probs: []prob{{"follow", "must be true or false, not an object", false}}},
		{name: "twice", body: doc(`"follow": true, "follow": false`, base), probs: []prob{{"follow", "duplicate field", false}}},
		{name: "other casing", body: doc(`"Follow": true`, base), probs: []prob{{"Follow", "field names are case-sensitive: write follow", false}}},

		// A kept state never holds a value, whatever the literal policy says.
		{name: "true with a literal credential, literals allowed", body: doc(`"follow": true`, base, password), policy: lenient,
			probs: []prob{{"secrets[1].value", "credential key Password " + refused, true}}},
		{name: "literal credential after follow", body: `{"servicePrincipalId": "` + spid + `", "follow": true, "secrets": [` + password + `, {"key": "ClientSecret", "value": ""}]}`,
			policy: lenient, probs: []prob{
				{"secrets[0].value", "credential key Password " + refused, true},
				{"secrets[1].value", "credential key ClientSecret " + refused, true},
			}},
		{name: "true with a literal credential, literals refused", body: doc(`"follow": true`, password),
			probs: []prob{{"secrets[0].value", "a literal value is refused for the credential key Password; use a secretUri", true}}},
		{name: "true with a Key Vault reference in value", policy: lenient,
			body: doc(`"follow": true`, `{"key": "Password", "value": "@Microsoft.KeyVault(VaultName=contoso-kv;SecretName=svc-password)"}`),
			want: withFollow(request(kvValueRef("Password", "secrets[0]", "svc-password", "")), FollowOn)},
		{name: "false with a literal credential, literals allowed", body: doc(`"follow": false`, base, password), policy: lenient,
			want: withFollow(request(baseEntry("secrets[0]"), lit("Password", "secrets[1]", "hunter2")), FollowOff)},
		{name: "absent with a literal credential, literals allowed", body: doc("", password), policy: lenient,
			want: request(lit("Password", "secrets[0]", "hunter2"))},
		{name: "true with a non-credential literal", body: doc(`"follow": true`, `{"key": "SyncAll", "value": false}`),
			want: withFollow(request(lit("SyncAll", "secrets[0]", "false")), FollowOn)},

		// Without a store, follow is refused either way; absent is fine.
		{name: "true without a store", body: doc(`"follow": true`, base, ref), policy: noStore,
			probs: []prob{{"follow", "PUTSECRETS_STATE_URL", true}}},
		{name: "false without a store", body: doc(`"follow": false`, base), policy: noStore,
			probs: []prob{{"follow", "PUTSECRETS_STATE_URL", true}}},
		{name: "absent without a store", body: doc("", base), policy: noStore, want: request(baseEntry("secrets[0]"))},
		{name: "without a store and with a literal credential", body: doc(`"follow": true`, password), policy: func(p *Policy) { noStore(p); lenient(p) },
			probs: []prob{{"secrets[0].value", refused, true}, {"follow", "PUTSECRETS_STATE_URL", true}}},
		{name: "without a store and invalid", body: doc(`"follow": true`, `{"key": "Nope", "value": "x"}`), policy: noStore,
			probs: []prob{{"secrets[0].key", "unknown key", false}, {"follow", "PUTSECRETS_STATE_URL", true}}},
	})
}

func TestFollowString(t *testing.T) {
	t.Parallel()
	for f, want := range map[Follow]string{FollowAbsent: "absent", FollowOn: "true", FollowOff: "false", Follow(9): "absent"} {
		if got := f.String(); got != want {
			t.Errorf("Follow(%d).String() = %q, want %q", f, got, want)
		}
	}
}
