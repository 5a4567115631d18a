package config

import (
	"strconv"
	"strings"
)

// FieldError is one problem with a configuration. Load and Validate return
// every problem they find, each a *FieldError, joined with errors.Join; use
// errors.As to pick one out.
type FieldError struct {
	File string // the config file; "" when the Config did not come from a file
	Line int    // 1-based line in File; 0 when the key is not in the file
	Key  string // dotted key such as "donor.lease" or "node.listen[1]"; "" for the whole file
	Err  error  // what is wrong, worded to follow the key
}

// Error formats the problem as "file:line: key: message", leaving out the
// parts that are unknown.
func (e *FieldError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(e.Line))
		}
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

// Unwrap returns the underlying error.
func (e *FieldError) Unwrap() error { return e.Err }

// quoteShort quotes a value for an error message, cutting very long values
// so that a pasted-in blob does not drown the message.
func quoteShort(s string) string {
	const max = 64
	if r := []rune(s); len(r) > max {
		return strconv.Quote(string(r[:max])) + "..."
	}
	return strconv.Quote(s)
}
