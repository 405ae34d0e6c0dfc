package config

import (
	"fmt"
	"strings"
)

// maxQueueName is the longest Service Bus queue name.
const maxQueueName = 260

// checkQueueName reports whether Service Bus would accept name as a queue:
// 1 to 260 characters, letters, digits, periods, hyphens, underscores and
// forward slashes, starting and ending with a letter or digit (Azure's
// resource naming rules for Microsoft.ServiceBus namespaces/queues; the data
// plane also refuses a leading or trailing slash and '@', '?', '#', '*').
// Empty path segments ("a//b") are refused too: the queue's address would
// not name one entity.
func checkQueueName(name string) error {
	if len(name) > maxQueueName {
		return fmt.Errorf("queue name of %d characters is longer than Service Bus allows (%d)", len(name), maxQueueName)
	}
	for _, r := range name {
		if !isAlnum(r) && !strings.ContainsRune("._-/", r) {
			return fmt.Errorf("%q is not a Service Bus queue name: %q is not a letter, digit, period, hyphen, underscore or slash", name, r)
		}
	}
	if !isAlnum(rune(name[0])) || !isAlnum(rune(name[len(name)-1])) {
		return fmt.Errorf("%q is not a Service Bus queue name: it must start and end with a letter or digit", name)
	}
	if strings.Contains(name, "//") {
		return fmt.Errorf("%q is not a Service Bus queue name: empty path segment", name)
	}
	return nil
}

func isAlnum(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
}
