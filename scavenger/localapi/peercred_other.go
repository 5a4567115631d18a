//go:build !linux && !darwin

package localapi

import (
	"errors"
	"net"
)

// Elsewhere (Windows) the daemon cannot tell who connected: the socket's
// file permissions are all that guards the API, as before.
const peerCredSupported = false

func peerUID(net.Conn) (int, error) {
	return -1, errors.New("peer credentials: not supported on this OS")
}
