package localapi

import (
	"errors"
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

const peerCredSupported = true

// peerUID is the uid of the process that connected c, from SO_PEERCRED:
// the kernel records it at connect, so the peer cannot lie about it.
func peerUID(c net.Conn) (int, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return -1, fmt.Errorf("peer credentials: %T is not a Unix socket", c)
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return -1, fmt.Errorf("peer credentials: %w", err)
	}
	var cred *unix.Ucred
	var serr error
	if err := raw.Control(func(fd uintptr) {
		cred, serr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return -1, fmt.Errorf("peer credentials: %w", err)
	}
	if serr != nil {
		return -1, fmt.Errorf("peer credentials: SO_PEERCRED: %w", serr)
	}
	if cred == nil {
		return -1, errors.New("peer credentials: SO_PEERCRED returned nothing")
	}
	return int(cred.Uid), nil
}
