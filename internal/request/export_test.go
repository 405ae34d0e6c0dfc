package request

// Identifiers the tests use and the product does not: kept out of the
// product's API.

// URI returns the secret's identifier,
// "https://{host}/secrets/{name}[/{version}]". ParseSecretURI reads it back
// into the same Reference.
func (r Reference) URI() string {
	u := "https://" + r.Host + "/secrets/" + r.Name
	if r.Version != "" {
		u += "/" + r.Version
	}
	return u
}
