package executor

import "errors"

// DisableNamespaces makes e behave as if the OS had refused namespaces, so
// tests can exercise the fallback on a machine that has them.
func DisableNamespaces(e *Executor) { e.degrade(errors.New("disabled by a test")) }
