package executor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// maskFlags keep anything from being executed or used as a device or a
// setuid program from a mask.
const maskFlags = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC

// maskPaths hides each of hide (absolute, shortest first) in the caller's
// mount namespace, which must be a fresh one: a directory becomes an empty
// read-only tmpfs, a file becomes an unopenable device (a read-only,
// nodev bind of /dev/null). keep, the task directory, stays reachable at its
// own path even when it lies inside a hidden directory.
//
// Mount events are made private first, so none of this propagates back to
// the daemon's namespace.
func maskPaths(hide []string, keep string) error {
	if len(hide) == 0 {
		return nil
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return mountError("make mounts private", err)
	}
	for _, p := range hide {
		fi, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue // inside a path masked already
		}
		if err != nil {
			return fmt.Errorf("hide %s: %w", p, err)
		}
		if fi.IsDir() {
			err = maskDir(p, keep)
		} else {
			err = maskFile(p)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// maskDir mounts an empty read-only tmpfs over dir. If keep lies inside dir,
// the tmpfs gets just the directories leading to keep, and keep itself is
// bind-mounted back in its place before the tmpfs is made read-only.
func maskDir(dir, keep string) error {
	rel, inside := within(dir, keep)
	if !inside {
		if err := unix.Mount("tmpfs", dir, "tmpfs", maskFlags|unix.MS_RDONLY, "size=4k,nr_inodes=1,mode=0555"); err != nil {
			return mountError("hide "+dir, err)
		}
		return nil
	}
	// Hold on to the real keep before covering it: the bind below takes
	// it from this descriptor, since its path will lead into the tmpfs.
	fd, err := unix.Open(keep, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open task directory %s: %w", keep, err)
	}
	defer unix.Close(fd)
	if err := unix.Mount("tmpfs", dir, "tmpfs", maskFlags, "size=64k,mode=0755"); err != nil {
		return mountError("hide "+dir, err)
	}
	target := filepath.Join(dir, rel)
	if err := os.MkdirAll(target, 0o755); err != nil {
		return fmt.Errorf("hide %s: path to the task directory: %w", dir, err)
	}
	src := "/proc/thread-self/fd/" + strconv.Itoa(fd)
	if err := unix.Mount(src, target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return mountError("bind task directory "+keep, err)
	}
	if err := unix.Mount("", dir, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY|maskFlags, ""); err != nil {
		return mountError("make "+dir+" read-only", err)
	}
	return nil
}

// maskFile binds /dev/null over file, read-only and nodev, so opening it
// fails and writing through it is impossible.
func maskFile(file string) error {
	if err := unix.Mount("/dev/null", file, "", unix.MS_BIND, ""); err != nil {
		return mountError("hide "+file, err)
	}
	if err := unix.Mount("", file, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY|maskFlags, ""); err != nil {
		return mountError("make "+file+" read-only", err)
	}
	return nil
}

// mountError marks refusals by the OS (no privilege for mounts here, as in
// some containers) as the sandbox being unavailable, and anything else as a
// plain failure of this task.
func mountError(op string, err error) error {
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		return &unavailableError{op: op, err: err}
	}
	return fmt.Errorf("%s: %w", op, err)
}
