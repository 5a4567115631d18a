package localapi

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// peerUIDOfFD reads the peer's uid from SO_PEERCRED.
func peerUIDOfFD(fd int) (int, error) {
	cred, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil {
		return -1, fmt.Errorf("SO_PEERCRED: %w", err)
	}
	if cred == nil {
		return -1, errors.New("SO_PEERCRED returned nothing")
	}
	return int(cred.Uid), nil
}
