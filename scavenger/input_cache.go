package scavenger

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/scavenge/scavenge/peer/wire"
)

// The donor keeps task inputs in a content-addressed cache so that a home
// sending the same inputs to many tasks (a parameter sweep over one data
// file) transfers them once per donor. Files are named by their SHA-256,
// verified when stored and read-only from then on. Tasks get copies (the
// kernel's copy_file_range: in-kernel, and a reflink on file systems that
// share blocks), never hard links: a guest owning or able to chmod a link to
// the cache's inode could rewrite every later task's copy of that input,
// and no size, time or inode check catches a rewrite that the link itself
// already changed the change time of.

// cacheFileMode is the mode of every cached file. A placed input that wants
// no write or execute bits shares the cache's inode; anything else is a copy.
const cacheFileMode os.FileMode = 0o444

// minCacheBytes is the smallest bound on the cache's size.
const minCacheBytes = 8 << 30

// inputCache is WorkDir/cache: files named <sha256>, an index of their sizes
// and last use, bounded by evicting the least recently used unpinned entry.
type inputCache struct {
	dir   string
	limit int64
	log   *slog.Logger

	mu       sync.Mutex
	entries  map[string]*cacheEntry
	inflight map[string]chan struct{} // inputs being received, by SHA-256
	total    int64
}

// cacheEntry is one cached file. pins counts tasks between deciding what
// they need and placing their inputs: eviction skips pinned entries.
type cacheEntry struct {
	size  int64
	mtime time.Time // as stored: a changed file is dropped, not served
	used  time.Time
	pins  int
}

// openInputCache creates dir if needed and indexes what an earlier run left:
// verified files keep serving, half-received temporaries are removed.
func openInputCache(dir string, limit int64, log *slog.Logger) (*inputCache, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("input cache: %w", err)
	}
	c := &inputCache{dir: dir, limit: limit, log: log, entries: map[string]*cacheEntry{}, inflight: map[string]chan struct{}{}}
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("input cache: %w", err)
	}
	for _, de := range des {
		name := de.Name()
		fi, err := de.Info()
		if err != nil {
			continue
		}
		if strings.HasPrefix(name, ".") || !isSHA256(name) || !fi.Mode().IsRegular() || fi.Mode().Perm() != cacheFileMode {
			// A temporary from an interrupted transfer, or something that
			// is not ours to serve.
			if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
				log.Warn("input cache: cannot remove stray file", "file", name, "err", err)
			}
			continue
		}
		c.entries[name] = &cacheEntry{size: fi.Size(), mtime: fi.ModTime(), used: fi.ModTime()}
		c.total += fi.Size()
	}
	c.mu.Lock()
	c.evictLocked()
	c.mu.Unlock()
	return c, nil
}

// isSHA256 reports whether s is 64 lowercase hex digits.
func isSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, r := range s {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') {
			return false
		}
	}
	return true
}

func (c *inputCache) path(sha string) string { return filepath.Join(c.dir, sha) }

// acquire pins every input of refs the cache holds intact (have) and
// lists the SHA-256s it lacks (need); each appears once, in the order of
// refs. The caller releases have, and whatever it stores, when placed, and
// must call unclaim for every need it did not store: a needed input is
// claimed for the caller until then, and other tasks that need it wait for
// it rather than have it sent again, so an input shared by many tasks
// crosses the network once per donor even when they start together.
func (c *inputCache) acquire(ctx context.Context, refs []wire.FileRef, now time.Time) (have, need []string, err error) {
	for {
		have, need, wait := c.tryAcquire(refs, now)
		if wait == nil {
			return have, need, nil
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
}

// tryAcquire is one try of acquire: when another task is receiving an input
// of refs, it pins and claims nothing and returns that transfer's channel.
func (c *inputCache) tryAcquire(refs []wire.FileRef, now time.Time) (have, need []string, wait <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := map[string]bool{}
	for _, r := range refs {
		if seen[r.SHA256] {
			continue
		}
		seen[r.SHA256] = true
		e := c.entries[r.SHA256]
		if e != nil && !c.intactLocked(r.SHA256, e) {
			c.log.Warn("input cache: entry changed on disk, dropping it", "sha256", r.SHA256)
			c.dropLocked(r.SHA256, e)
			e = nil
		}
		if e == nil {
			if ch := c.inflight[r.SHA256]; ch != nil {
				return nil, nil, ch
			}
			need = append(need, r.SHA256)
			continue
		}
		have = append(have, r.SHA256)
	}
	for _, sha := range have {
		c.entries[sha].pins++
		c.entries[sha].used = now
	}
	for _, sha := range need {
		c.inflight[sha] = make(chan struct{})
	}
	return have, need, nil
}

// unclaim gives up the caller's claim on shas it will not store (the
// transfer failed): a task waiting for one of them asks for it itself.
func (c *inputCache) unclaim(shas []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, sha := range shas {
		c.landedLocked(sha)
	}
}

// landedLocked ends the claim on sha and wakes the tasks waiting for it.
func (c *inputCache) landedLocked(sha string) {
	if ch := c.inflight[sha]; ch != nil {
		close(ch)
		delete(c.inflight, sha)
	}
}

// intactLocked checks that the file is still the one stored: same size and
// modification time, so a cache file changed by hand is dropped, not served.
func (c *inputCache) intactLocked(sha string, e *cacheEntry) bool {
	fi, err := os.Lstat(c.path(sha))
	return err == nil && fi.Mode().IsRegular() && fi.Size() == e.size && fi.ModTime().Equal(e.mtime)
}

func (c *inputCache) dropLocked(sha string, e *cacheEntry) {
	if err := os.Remove(c.path(sha)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		c.log.Warn("input cache: cannot remove entry", "sha256", sha, "err", err)
	}
	delete(c.entries, sha)
	c.total -= e.size
}

// release unpins shas (one pin each, as acquire and store took them), then
// evicts down to the bound.
func (c *inputCache) release(shas []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, sha := range shas {
		if e := c.entries[sha]; e != nil && e.pins > 0 {
			e.pins--
		}
	}
	c.evictLocked()
}

// store receives the file h announces from conn into the cache, verified,
// and pins it for the caller.
func (c *inputCache) store(conn *wire.Conn, h *wire.FileHeader, now time.Time) error {
	ro := *h
	ro.Mode = uint32(cacheFileMode)
	if err := receiveFile(conn, &ro, c.path(h.SHA256)); err != nil {
		return err
	}
	fi, err := os.Lstat(c.path(h.SHA256))
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// Two tasks may have received the same file at once: the second rename
	// replaced the first with identical bytes, so one entry serves both.
	if e := c.entries[h.SHA256]; e != nil {
		c.total -= e.size
		e.size, e.mtime, e.used = fi.Size(), fi.ModTime(), now
		e.pins++
		c.total += e.size
	} else {
		c.entries[h.SHA256] = &cacheEntry{size: fi.Size(), mtime: fi.ModTime(), used: now, pins: 1}
		c.total += fi.Size()
	}
	c.landedLocked(h.SHA256)
	c.evictLocked()
	return nil
}

// evictLocked removes least recently used unpinned entries until the cache
// fits its bound.
func (c *inputCache) evictLocked() {
	if c.total <= c.limit {
		return
	}
	shas := make([]string, 0, len(c.entries))
	for sha, e := range c.entries {
		if e.pins == 0 {
			shas = append(shas, sha)
		}
	}
	sort.Slice(shas, func(i, j int) bool { return c.entries[shas[i]].used.Before(c.entries[shas[j]].used) })
	for _, sha := range shas {
		if c.total <= c.limit {
			return
		}
		e := c.entries[sha]
		c.log.Debug("input cache: evicting", "sha256", sha, "size", e.size)
		c.dropLocked(sha, e)
	}
}

// place copies the cached file sha to dst with exactly mode (permission
// bits). The entry must be pinned.
func (c *inputCache) place(sha, dst string, mode os.FileMode) error {
	src := c.path(sha)
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	// OpenFile's mode went through the umask; the sender's bits are exact.
	if err := out.Chmod(mode); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
