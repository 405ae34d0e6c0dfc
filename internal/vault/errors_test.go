package vault

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/putsecrets/putsecrets/internal/secret"
)

// responseError builds the *azcore.ResponseError azsecrets returns for a
// Key Vault answer.
func responseError(status int, body string, header ...string) error {
	h := http.Header{}
	for i := 0; i+1 < len(header); i += 2 {
		h.Set(header[i], header[i+1])
	}
	req, _ := http.NewRequest(http.MethodGet, contosoURL+"/secrets/scim-token/", nil)
	return runtime.NewResponseError(&http.Response{
		StatusCode: status, Status: http.StatusText(status), Header: h,
		Body: io.NopCloser(strings.NewReader(body)), Request: req,
	})
}

func TestClassify(t *testing.T) {
	t.Parallel()
	disabled := responseError(403, `{"error":{"code":"Forbidden","message":"Operation get is not allowed on a disabled secret.","innererror":{"code":"SecretDisabled"}}}`)
	rbac := responseError(403, `{"error":{"code":"Forbidden","message":"Caller is not authorized.","innerError":{"code":"ForbiddenByRbac"}}}`)
	nested := responseError(403, `{"error":{"code":"Forbidden","message":"m","innererror":{"innererror":{"code":"SecretDisabled"}}}}`)
	notFound := responseError(404, `{"error":{"code":"SecretNotFound","message":"A secret with (name/id) x was not found in this key vault."}}`)
	unauthorized := responseError(401, `{"error":{"code":"Unauthorized","message":"AKV10022: Invalid audience."}}`)
	throttled := responseError(429, `{"error":{"code":"Throttled","message":"slow down"}}`, "Retry-After", "12")
	unavailable := responseError(503, `not json`, "retry-after-ms", "1500")
	badGateway := responseError(502, ``)

	type class struct {
		notFound, disabled, forbidden, throttled bool
		retryAfter                               time.Duration
	}
	tests := []struct {
		name string
		err  error
		want class
	}{
		{"nil", nil, class{}},
		{"other error", errors.New("dial tcp: connection refused"), class{}},
		{"disabled, bare", disabled, class{disabled: true}},
		{"disabled, wrapped", fmt.Errorf("resolve: %w", disabled), class{disabled: true}},
		{"disabled, nested inner error", nested, class{disabled: true}},
		{"rbac", rbac, class{forbidden: true}},
		{"not found", notFound, class{notFound: true}},
		{"401", unauthorized, class{forbidden: true}},
		{"429", throttled, class{throttled: true, retryAfter: 12 * time.Second}},
		{"503 with retry-after-ms and a non-JSON body", unavailable, class{throttled: true, retryAfter: 1500 * time.Millisecond}},
		{"502 without body", badGateway, class{throttled: true}},
		{"joined: every kind seen, longest Retry-After", errors.Join(notFound, fmt.Errorf("x: %w", throttled), unavailable, rbac),
			class{notFound: true, forbidden: true, throttled: true, retryAfter: 12 * time.Second}},
		{"*Error without a response", &Error{Ref: Ref{Name: "x"}, Err: errors.New("boom")}, class{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Not parallel: the bare errors are shared and classifying one
			// reads its body.
			for range 2 { // a second look must see the same: the body is rewound
				ra, th := Throttled(tt.err)
				got := class{NotFound(tt.err), Disabled(tt.err), Forbidden(tt.err), th, ra}
				if got != tt.want {
					t.Fatalf("class = %+v, want %+v", got, tt.want)
				}
			}
		})
	}
	// azcore's own rendering still works after the body was read.
	if !strings.Contains(disabled.Error(), "SecretDisabled") {
		t.Errorf("azcore's Error() lost the body:\n%s", disabled)
	}
}

func TestErrorMessage(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 400)
	tests := []struct {
		name string
		err  *Error
		want string
	}{
		{
			name: "vault name derived from the URL",
			err:  newError(Ref{VaultURL: contosoURL, Name: "scim-token"}, nil, responseError(404, `{"error":{"code":"SecretNotFound","message":"Gone.\r\n  Really."}}`, "x-ms-request-id", "abc"), nil),
			want: `get secret "scim-token" from vault "contoso-kv": 404 Not Found SecretNotFound: Gone. Really. (x-ms-request-id abc)`,
		},
		{
			name: "long message cut on a rune boundary",
			err:  newError(Ref{Vault: "v", Name: "n"}, nil, responseError(403, `{"error":{"code":"Forbidden","message":"`+long+`"}}`), nil),
			want: `get secret "n" from vault "v": 403 Forbidden Forbidden: ` + strings.Repeat("é", maxMessage/2) + "…",
		},
		{
			name: "other cause verbatim",
			err:  newError(Ref{Vault: "v", Name: "n"}, nil, errors.New("dial tcp: i/o timeout"), nil),
			want: `get secret "n" from vault "v": dial tcp: i/o timeout`,
		},
		{
			name: "a quoted value is scrubbed, also \\u-escaped",
			err: newError(Ref{Vault: "v", Name: "n"}, nil, responseError(400,
				`{"error":{"code":"BadParameter","message":"value 'literal-base-address' and \\u0070ercent%2Dvalue-12 refused"}}`),
				secret.NewScrubber(secret.New("https://literal-base-address.example"), secret.New("percent-value-12345"))),
			want: `get secret "n" from vault "v": 400 Bad Request BadParameter: value '[REDACTED]' and [REDACTED] refused`,
		},
		{
			name: "nil cause",
			err:  &Error{Ref: Ref{Vault: "v", Name: "n"}},
			want: `get secret "n" from vault "v": <nil>`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.err.Error(); got != tt.want {
				if strings.Contains(got, "literal-base") || strings.Contains(got, "value-12") {
					got = fmt.Sprintf("<%d bytes withheld: they hold a value>", len(got))
				}
				t.Errorf("Error() =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// FuzzReadDetail feeds arbitrary Key Vault error answers to the parser. It
// must not panic; the message it keeps is one valid UTF-8 line of bounded
// length; the wait asked for is never negative; and the body is left
// readable, so that reading the same answer again gives the same detail.
func FuzzReadDetail(f *testing.F) {
	for _, s := range []struct {
		status int
		body   string
		header string
	}{
		{403, `{"error":{"code":"Forbidden","message":"Operation get is not allowed on a disabled secret.","innererror":{"code":"SecretDisabled"}}}`, ""},
		{403, `{"error":{"code":"Forbidden","message":"Caller is not authorized to perform action on resource.\r\nIf role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\nCaller: appid=…;oid=…\r\nAction: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'\r\nResource: '…'\r\nAssignment: (not found)\r\nDecisionReason: 'DeniedWithNoValidRBAC' \r\nVault: contoso-kv;location=westeurope\r\n","innererror":{"code":"ForbiddenByRbac"}}}`, ""},
		{404, `{"error":{"code":"SecretNotFound","message":"A secret with (name/id) scim-token was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182"}}`, ""},
		{401, `{"error":{"code":"Unauthorized","message":"AKV10000: Request is missing a Bearer or PoP token."}}`, ""},
		{429, `{"error":{"code":"Throttled","message":"Request was not processed because too many requests were received. Reason: VaultRequestTypeLimitReached"}}`, "10"},
		{503, `not json`, "Wed, 21 Oct 2015 07:28:00 GMT"},
		{500, `{"error":{"code":1,"message":["x"],"innererror":{"innererror":{"innererror":{"code":"Deep"}}}}}`, "-1"},
	} {
		f.Add(s.status, []byte(s.body), s.header)
	}
	f.Fuzz(func(t *testing.T, status int, body []byte, retryAfterHeader string) {
		if status < 100 || status > 999 {
			return
		}
		err := responseError(status, string(body), "Retry-After", retryAfterHeader)
		var re *azcore.ResponseError
		if !errors.As(err, &re) {
			t.Fatal("not an *azcore.ResponseError")
		}
		d := readDetail(re)
		if strings.ContainsAny(d.message, "\r\n\t") || !utf8.ValidString(d.message) || len(d.message) > maxMessage+len("…") {
			t.Fatalf("message is not one bounded UTF-8 line: %q", d.message)
		}
		if d.retryAfter < 0 {
			t.Fatalf("retryAfter %v < 0", d.retryAfter)
		}
		again := readDetail(re)
		if again.retryAfter > d.retryAfter {
			t.Fatalf("a second reading asks to wait longer: %v, then %v", d.retryAfter, again.retryAfter)
		}
		again.retryAfter = d.retryAfter // an HTTP date counts down between readings
		if again != d {
			t.Fatalf("a second reading differs: %+v, then %+v", d, again)
		}
		_, _ = Throttled(err)
		_ = NotFound(err) || Disabled(err) || Forbidden(err)
		_ = newError(Ref{Vault: "contoso-kv", Name: "scim-token"}, nil, err, nil).Error()
	})
}
