package envelope

import "net/url"

// Identifiers the tests use and the product does not: kept out of the
// product's API.

// RedactedURL returns the request URL without its query string, which may
// carry the function key.
func (r *HTTPRequest) RedactedURL() string {
	u, err := url.Parse(r.URL)
	if err != nil {
		return ""
	}
	u.RawQuery, u.Fragment, u.User = "", "", nil
	return u.String()
}
