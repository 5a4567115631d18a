//go:build linux || darwin

package localapi

import (
	"fmt"
	"net"
)

const peerCredSupported = true

// peerUID is the uid of the process that connected c, as the kernel
// recorded it at connect, so the peer cannot lie about it. peerUIDOfFD
// reads it the way this OS offers (SO_PEERCRED, LOCAL_PEERCRED).
func peerUID(c net.Conn) (int, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return -1, fmt.Errorf("peer credentials: %T is not a Unix socket", c)
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return -1, fmt.Errorf("peer credentials: %w", err)
	}
	uid, serr := -1, error(nil)
	if err := raw.Control(func(fd uintptr) { uid, serr = peerUIDOfFD(int(fd)) }); err != nil {
		return -1, fmt.Errorf("peer credentials: %w", err)
	}
	if serr != nil {
		return -1, fmt.Errorf("peer credentials: %w", serr)
	}
	return uid, nil
}
