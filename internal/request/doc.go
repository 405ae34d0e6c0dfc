// Package request parses and validates the request document of CONTRACT.md §2.
package request
