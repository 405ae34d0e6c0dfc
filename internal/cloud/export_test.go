package cloud

// Identifiers the tests use and the product does not: kept out of the
// product's API.

// GraphScope is the OAuth scope for a token to call Graph in this cloud.
func (c Cloud) GraphScope() string { return c.Graph + "/.default" }
