package servicebus

// Identifiers the tests use and the product does not: kept out of the
// product's API.

// Senders returns the number of senders kept open.
func (c *Client) Senders() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.senders)
}
