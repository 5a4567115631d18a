package scavenger

import (
	"os"
	"sync"
	"time"
)

// Input hashes. Every submit sends its inputs by SHA-256, and a script that
// submits the same 44 MB input with each of a thousand jobs would hash it a
// thousand times (about 0.15 s each on a loaded machine). The home remembers
// each file's hash by what identifies its content without reading it: path,
// size, modification and change time, device and inode. Anything that
// rewrites the file, in place or by renaming another over it, changes at
// least one of them, and the file is hashed again.

const (
	// maxInputHashes bounds the remembered hashes; the least recently used
	// goes first.
	maxInputHashes = 4096
	// hashRacyWindow: a file changed this recently is hashed but not
	// remembered. File times come from a coarse clock (a jiffy on Linux, 2 s
	// on FAT), so a rewrite right after hashing could leave the same size and
	// times behind; one older than this cannot be confused with a later one.
	hashRacyWindow = 2 * time.Second
)

// fileIdentity is what changes whenever a file's content may have.
type fileIdentity struct {
	size         int64
	mtime, ctime int64 // Unix nanoseconds; ctime 0 where the OS has none
	dev, ino     uint64
}

func identityOf(fi os.FileInfo) fileIdentity {
	id := fileIdentity{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	id.ctime, id.dev, id.ino = fileSysIdentity(fi)
	return id
}

// hashEntry is one remembered hash, or one being computed (ready open):
// submits of the same file at the same time wait for one hashing.
type hashEntry struct {
	id    fileIdentity
	used  uint64 // the inputHashes clock at the last use
	ready chan struct{}
	sha   string // set before ready closes; "" if the hashing failed or the file changed
}

// inputHashes remembers input files' SHA-256 by path and identity.
type inputHashes struct {
	mu      sync.Mutex
	entries map[string]*hashEntry // by absolute path
	clock   uint64
	max     int
	now     func() time.Time
	// hashed counts the files read (hashings done or failed), for tests.
	hashed int
}

func newInputHashes() *inputHashes {
	return &inputHashes{entries: map[string]*hashEntry{}, max: maxInputHashes, now: time.Now}
}

// sum returns the SHA-256 and size of the file at path (absolute), hashing
// it only when no remembered hash matches its identity.
func (c *inputHashes) sum(path string) (sha string, size int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	before, err := f.Stat()
	if err != nil {
		return "", 0, err
	}
	id := identityOf(before)

	c.mu.Lock()
	c.clock++
	if e := c.entries[path]; e != nil && e.id == id {
		e.used = c.clock
		c.mu.Unlock()
		<-e.ready
		if e.sha != "" {
			return e.sha, id.size, nil
		}
		// Its hashing failed or saw the file change: read it ourselves.
		return c.read(f, path, nil)
	}
	e := &hashEntry{id: id, used: c.clock, ready: make(chan struct{})}
	c.entries[path] = e
	c.evictLocked()
	c.mu.Unlock()
	return c.read(f, path, e)
}

// read hashes the open file f. With e (the entry being computed for it) it
// fills e in for the submits waiting on it, and forgets it afterwards when
// the file changed meanwhile or is too new to remember safely.
func (c *inputHashes) read(f *os.File, path string, e *hashEntry) (sha string, size int64, err error) {
	start := c.now()
	sha, size, err = hashReader(f)
	keep := false
	if err == nil && e != nil {
		after, serr := f.Stat()
		if serr == nil && identityOf(after) == e.id && size == e.id.size {
			// Those waiting now saw this identity too: the hash is theirs.
			e.sha = sha
			settled := start.Add(-hashRacyWindow).UnixNano()
			keep = e.id.mtime < settled && e.id.ctime < settled
		}
	}
	c.mu.Lock()
	c.hashed++
	if e != nil {
		if !keep && c.entries[path] == e {
			delete(c.entries, path)
		}
		close(e.ready)
	}
	c.mu.Unlock()
	if err != nil {
		return "", 0, err
	}
	return sha, size, nil
}

// evictLocked forgets the least recently used hashes beyond the limit.
func (c *inputHashes) evictLocked() {
	for len(c.entries) > c.max {
		var oldest string
		var used uint64
		for p, e := range c.entries {
			if oldest == "" || e.used < used {
				oldest, used = p, e.used
			}
		}
		delete(c.entries, oldest)
	}
}
