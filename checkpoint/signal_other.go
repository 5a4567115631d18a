//go:build !unix

package checkpoint

import "os"

// RequestSignal is nil where there are no Unix signals (Windows): a task
// there watches for RequestFile in its checkpoint folder instead.
var RequestSignal os.Signal
