package sensor

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// evdevWatcher reads the keyboards, mice, touchpads and touchscreens of a
// device directory (/dev/input on a real machine) as their events arrive,
// one goroutine per device blocked in read, and remembers when the last
// one was used. Unlike terminal access times, this sees the input of a
// graphical desktop, X or Wayland, and USB devices, whose access time
// modern kernels no longer update.
//
// Devices plugged in later are found through inotify on the directory,
// which costs nothing while nothing changes; a device that goes away ends
// its reader. Reading /dev/input needs root or membership of group input;
// without it the watcher reports the problem once and sees nothing.
type evdevWatcher struct {
	dir    string
	probe  func(*os.File) (name, kind string, err error)
	log    *slog.Logger
	notify func()
	start  time.Time     // when watching began
	done   chan struct{} // closed by close
	wg     sync.WaitGroup

	mu       sync.Mutex
	devices  map[string]*os.File // the devices being read, by path
	inotify  *os.File            // nil when hotplug is not watched
	last     time.Time           // the newest input, zero before any
	lastFrom string
	denied   bool // the permission problem has been reported
}

const (
	// evdevCoalesce is how long a reader waits after reading input before
	// it reads again. The first event after a quiet spell is seen at
	// once, which is what owner-return detection needs; while the owner
	// moves a 1000 Hz mouse, later events pile up in the kernel's buffer
	// and are taken a handful of times a second instead of a thousand.
	evdevCoalesce = 200 * time.Millisecond
	// quietGap is how long input must have paused for new input to be
	// notified: an owner coming back, not one still typing.
	quietGap = time.Second
)

// startEvdev begins watching dir. A missing directory means a machine
// without input devices (a server, a container) and is no error.
func startEvdev(o Options, log *slog.Logger, notify func()) *evdevWatcher {
	w := &evdevWatcher{
		dir:     o.evdevDir,
		probe:   o.evdevProbe,
		log:     log,
		notify:  notify,
		start:   time.Now(),
		done:    make(chan struct{}),
		devices: make(map[string]*os.File),
	}
	if w.dir == "" {
		w.dir = "/dev/input"
	}
	if w.probe == nil {
		w.probe = probeEvdev
	}
	if _, err := os.Stat(w.dir); errors.Is(err, fs.ErrNotExist) {
		log.Info("no input device directory; keyboard and mouse are not watched through evdev", "dir", w.dir)
		return w
	}
	// Watch before listing, so that a device appearing in between is
	// not missed.
	ino, err := w.watchDir()
	if err != nil && !w.permissionProblem(err) {
		log.Warn("devices plugged in later will not be seen", "dir", w.dir, "err", err)
	}
	w.scan()
	if ino != nil {
		w.inotify = ino
		w.wg.Go(func() { w.hotplug(ino) })
	}
	return w
}

// close stops every reader and waits for them.
func (w *evdevWatcher) close() {
	close(w.done)
	w.mu.Lock()
	files := make([]*os.File, 0, len(w.devices)+1)
	for _, f := range w.devices {
		files = append(files, f)
	}
	if w.inotify != nil {
		files = append(files, w.inotify)
	}
	w.mu.Unlock()
	for _, f := range files {
		f.Close() // unblocks its reader, which then returns
	}
	w.wg.Wait()
}

// latest is the newest input seen. A device that has had no input since
// watching began says only that its owner has not used it since then: a
// bound, not an input time.
func (w *evdevWatcher) latest() (activity, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.last.IsZero() {
		return activity{at: w.last, source: w.lastFrom}, true
	}
	if n := len(w.devices); n > 0 {
		return activity{
			at:     w.start,
			source: fmt.Sprintf("evdev: no input on %d device(s) since watching began", n),
			bound:  true,
		}, true
	}
	return activity{}, false
}

// watchDir starts inotify on the directory. The descriptor is non-blocking
// so that the os.File is served by the runtime's poller and Close ends a
// pending Read.
func (w *evdevWatcher) watchDir() (*os.File, error) {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("inotify: %w", err)
	}
	// Attribute changes matter: udev creates a node, then hands it to
	// group input or to the seat's user.
	const mask = unix.IN_CREATE | unix.IN_ATTRIB | unix.IN_MOVED_TO | unix.IN_DELETE | unix.IN_MOVED_FROM
	if _, err := unix.InotifyAddWatch(fd, w.dir, mask); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("inotify on %s: %w", w.dir, err)
	}
	return os.NewFile(uintptr(fd), "inotify "+w.dir), nil
}

// scan adds every device in the directory. It runs before the hotplug
// goroutine starts and later only on it, so adds never race each other.
func (w *evdevWatcher) scan() {
	entries, err := os.ReadDir(w.dir)
	if err != nil {
		if !w.permissionProblem(err) {
			w.log.Warn("cannot list input devices", "dir", w.dir, "err", err)
		}
		return
	}
	for _, e := range entries {
		if isEventNode(e.Name()) {
			w.add(filepath.Join(w.dir, e.Name()))
		}
	}
}

func isEventNode(name string) bool { return strings.HasPrefix(name, "event") }

// hotplug follows the directory's changes until the watcher closes.
func (w *evdevWatcher) hotplug(ino *os.File) {
	buf := make([]byte, 4096)
	for {
		n, err := ino.Read(buf)
		if err != nil {
			if !w.closed() {
				w.log.Warn("watching for new input devices stopped", "dir", w.dir, "err", err)
			}
			return
		}
		for b := buf[:n]; len(b) >= unix.SizeofInotifyEvent; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&b[0]))
			end := unix.SizeofInotifyEvent + int(ev.Len)
			if end > len(b) {
				break // the kernel never splits an event; be safe anyway
			}
			name := cString(b[unix.SizeofInotifyEvent:end])
			b = b[end:]
			switch {
			case ev.Mask&unix.IN_Q_OVERFLOW != 0:
				w.scan() // events were lost: look at everything again
			case !isEventNode(name):
			case ev.Mask&(unix.IN_DELETE|unix.IN_MOVED_FROM) != 0:
				w.remove(filepath.Join(w.dir, name))
			default:
				w.add(filepath.Join(w.dir, name))
			}
		}
	}
}

func (w *evdevWatcher) closed() bool {
	select {
	case <-w.done:
		return true
	default:
		return false
	}
}

// add starts reading a device unless it is already read or is not owner
// input. O_NONBLOCK puts the descriptor under the runtime's poller (a
// blocked reader costs no thread) and lets a FIFO open without a writer.
func (w *evdevWatcher) add(path string) {
	w.mu.Lock()
	_, reading := w.devices[path]
	w.mu.Unlock()
	if reading || w.closed() {
		return
	}
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		if !w.permissionProblem(err) {
			w.log.Debug("cannot open input device", "path", path, "err", err)
		}
		return
	}
	name, kind, err := w.probe(f)
	switch {
	case err != nil:
		f.Close()
		w.log.Debug("not watching a device that is not an input device", "path", path, "err", err)
		return
	case kind == "":
		// A power button or a lid switch: not someone at the machine.
		f.Close()
		w.log.Debug("not watching input device: not a keyboard, mouse, touchpad or touchscreen", "path", path, "name", name)
		return
	}
	w.mu.Lock()
	if w.closed() {
		w.mu.Unlock()
		f.Close()
		return
	}
	w.devices[path] = f
	w.mu.Unlock()
	w.log.Info("watching input device", "path", path, "name", name, "kind", kind)
	source := fmt.Sprintf("evdev %s (%s)", path, name)
	w.wg.Go(func() { w.read(path, source, f) })
}

// remove stops reading a device whose node is gone.
func (w *evdevWatcher) remove(path string) {
	w.mu.Lock()
	f := w.devices[path]
	delete(w.devices, path)
	w.mu.Unlock()
	if f != nil {
		f.Close()
	}
}

// read records the device's input until it goes away (ENODEV when
// unplugged, EOF for a FIFO) or the watcher closes it.
func (w *evdevWatcher) read(path, source string, f *os.File) {
	defer func() {
		w.mu.Lock()
		if w.devices[path] == f {
			delete(w.devices, path)
		}
		w.mu.Unlock()
		f.Close()
	}()
	buf := make([]byte, 64*evSize)
	off := 0 // bytes of an incomplete record kept from the last read
	for {
		n, err := f.Read(buf[off:])
		if err != nil {
			if !errors.Is(err, os.ErrClosed) {
				w.log.Info("input device gone", "path", path, "err", err)
			}
			return
		}
		end := off + n
		whole := end - end%evSize
		if humanInput(buf[:whole]) {
			w.record(source)
		}
		off = copy(buf, buf[whole:end])
		select {
		case <-w.done:
			return
		case <-time.After(evdevCoalesce):
		}
	}
}

// record notes input now, and notifies when it ends a quiet spell.
func (w *evdevWatcher) record(source string) {
	now := time.Now()
	w.mu.Lock()
	quiet := now.Sub(w.last) >= quietGap
	w.last, w.lastFrom = now, source
	w.mu.Unlock()
	if quiet {
		w.notify()
	}
}

// permissionProblem reports a permission error once, clearly, and says
// whether err was one. A daemon that is neither root nor in group input
// would otherwise repeat it for every device and every hotplug.
func (w *evdevWatcher) permissionProblem(err error) bool {
	if !errors.Is(err, fs.ErrPermission) {
		return false
	}
	w.mu.Lock()
	first := !w.denied
	w.denied = true
	w.mu.Unlock()
	if first {
		w.log.Warn("cannot read input devices: permission denied; run the daemon as root or in group input "+
			"to see keyboard and mouse use (until then only logind and terminals count)", "dir", w.dir, "err", err)
	} else {
		w.log.Debug("input device refused", "err", err)
	}
	return true
}
