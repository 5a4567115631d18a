package localapi

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// peerUIDOfFD reads the peer's uid from LOCAL_PEERCRED (what getpeereid(3)
// reads).
func peerUIDOfFD(fd int) (int, error) {
	cred, err := unix.GetsockoptXucred(fd, unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
	if err != nil {
		return -1, fmt.Errorf("LOCAL_PEERCRED: %w", err)
	}
	if cred == nil {
		return -1, errors.New("LOCAL_PEERCRED returned nothing")
	}
	return int(cred.Uid), nil
}
