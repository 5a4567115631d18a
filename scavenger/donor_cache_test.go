package scavenger

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scavenge/scavenge/peer/wire"
)

// storeInput sends content through a pipe into the cache, as a task's
// input arrives, and returns its ref. The entry stays pinned until released.
func storeInput(t *testing.T, c *inputCache, content string, now time.Time) wire.FileRef {
	t.Helper()
	in := newLocalInput(t, "in", []byte(content), 0)
	a, b, _ := connPair(t)
	sent := make(chan error, 1)
	go func() { sent <- sendFile(a, "in", in.path, in.ref.SHA256, in.ref.Size, 0) }()
	h, err := wire.Expect[*wire.FileHeader](b)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.store(b, h, now); err != nil {
		t.Fatalf("store: %v", err)
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	return in.ref
}

func TestInputCacheStoreAndPlace(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	c, err := openInputCache(dir, 1<<20, donorTestLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ref := storeInput(t, c, "hello cache", now)
	fi, err := os.Stat(filepath.Join(dir, ref.SHA256))
	if err != nil || fi.Mode().Perm() != cacheFileMode || fi.Size() != ref.Size {
		t.Fatalf("cached file: %v (%v), want %d bytes mode %v", fi, err, ref.Size, cacheFileMode)
	}
	task := t.TempDir()
	for _, mode := range []os.FileMode{0o644, 0o444, 0o755, 0o600} {
		dst := filepath.Join(task, mode.String())
		if err := c.place(ref.SHA256, dst, mode); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(dst)
		if err != nil || string(got) != "hello cache" {
			t.Errorf("placed content: %q (%v)", got, err)
		}
		src, _ := os.Stat(filepath.Join(dir, ref.SHA256))
		fi, _ := os.Stat(dst)
		if os.SameFile(src, fi) {
			t.Errorf("mode %v: placed as the cache's own inode: a guest could rewrite the cache through it", mode)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("mode: got %v, want %v", fi.Mode().Perm(), mode)
		}
	}
	c.release([]string{ref.SHA256})
	if have, need, _ := c.acquire(t.Context(), []wire.FileRef{ref, ref}, now); !slices.Equal(have, []string{ref.SHA256}) || len(need) != 0 {
		t.Errorf("acquire a cached file: have %v need %v", have, need)
	}
}

// TestInputCacheEviction: above its bound the cache drops the least
// recently used entries that no task holds.
func TestInputCacheEviction(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	c, err := openInputCache(dir, 25, donorTestLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	a := storeInput(t, c, "aaaaaaaaaa", t0) // 10 bytes each
	b := storeInput(t, c, "bbbbbbbbbb", t0.Add(time.Second))
	c.release([]string{a.SHA256, b.SHA256})
	// a is used again, so b is now the least recently used.
	if have, _, _ := c.acquire(t.Context(), []wire.FileRef{a}, t0.Add(2*time.Second)); len(have) != 1 {
		t.Fatal("a is not cached")
	}
	c.release([]string{a.SHA256})
	d := storeInput(t, c, "dddddddddd", t0.Add(3*time.Second)) // 30 bytes: one must go
	have, need, _ := c.acquire(t.Context(), []wire.FileRef{a, b, d}, t0.Add(4*time.Second))
	if !slices.Equal(have, []string{a.SHA256, d.SHA256}) || !slices.Equal(need, []string{b.SHA256}) {
		t.Errorf("after eviction: have %v need %v, want b evicted", have, need)
	}
	if bytes, n := c.size(); bytes != 20 || n != 2 {
		t.Errorf("size: %d bytes in %d entries, want 20 in 2", bytes, n)
	}
	if _, err := os.Stat(filepath.Join(dir, b.SHA256)); !os.IsNotExist(err) {
		t.Errorf("evicted file: %v, want it removed", err)
	}

	// Pinned entries stay even when the cache is over its bound.
	e := storeInput(t, c, "eeeeeeeeee", t0.Add(5*time.Second))
	if bytes, n := c.size(); bytes != 30 || n != 3 {
		t.Errorf("size with everything pinned: %d bytes in %d entries, want 30 in 3", bytes, n)
	}
	c.release([]string{a.SHA256, d.SHA256, d.SHA256, e.SHA256}) // d was pinned twice: by acquire and by store
	if _, n := c.size(); n != 2 {
		t.Errorf("entries after release: %d, want 2", n)
	}
}

// TestInputCacheReopen: a restarted donor serves what it cached before,
// drops half-received temporaries, and never serves a changed file.
func TestInputCacheReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	log := donorTestLogger(t)
	c, err := openInputCache(dir, 1<<20, log)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	kept := storeInput(t, c, "kept across restarts", now)
	resized := storeInput(t, c, "will be appended to", now)
	touched := storeInput(t, c, "same size, new bytes", now)
	os.WriteFile(filepath.Join(dir, ".x.part-123"), []byte("half"), 0o600)
	os.WriteFile(filepath.Join(dir, "not-a-hash"), []byte("?"), 0o600)

	c2, err := openInputCache(dir, 1<<20, log)
	if err != nil {
		t.Fatal(err)
	}
	if names := dirEntries(t, dir); len(names) != 3 {
		t.Errorf("cache dir after reopen: %v, want only the 3 cached files", names)
	}
	// Someone changed the cache files by hand.
	p := filepath.Join(dir, resized.SHA256)
	os.Chmod(p, 0o644)
	os.WriteFile(p, []byte("will be appended to, and was"), 0o644)
	os.Chmod(p, cacheFileMode)
	p = filepath.Join(dir, touched.SHA256)
	os.Chmod(p, 0o644)
	os.WriteFile(p, []byte("SAME SIZE, NEW BYTES"), 0o644)
	os.Chmod(p, cacheFileMode)
	os.Chtimes(p, time.Time{}, now.Add(-time.Hour))

	have, need, _ := c2.acquire(t.Context(), []wire.FileRef{kept, resized, touched}, now)
	if !slices.Equal(have, []string{kept.SHA256}) || !slices.Equal(need, []string{resized.SHA256, touched.SHA256}) {
		t.Errorf("after tampering: have %v need %v, want only %s kept", have, need, kept.SHA256[:8])
	}
}

// TestInputCacheOneTransfer: tasks that need the same input at once do not
// all have it sent: the first claims it, the others wait for it to land
// (or, when that transfer fails, claim it themselves).
func TestInputCacheOneTransfer(t *testing.T) {
	c, err := openInputCache(t.TempDir(), 1<<20, donorTestLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	in := newLocalInput(t, "in", []byte("shared by every task"), 0)
	ref := in.ref
	_, need, err := c.acquire(t.Context(), []wire.FileRef{ref}, now)
	if err != nil || len(need) != 1 {
		t.Fatalf("first task: need %v, %v; want the input", need, err)
	}
	second := make(chan []string, 1)
	go func() {
		have, need, _ := c.acquire(t.Context(), []wire.FileRef{ref}, now)
		if len(need) != 0 {
			t.Errorf("second task needs %v while the first receives it", need)
		}
		second <- have
	}()
	select {
	case <-second:
		t.Fatal("the second task did not wait for the first one's transfer")
	case <-time.After(50 * time.Millisecond):
	}
	storeInput(t, c, "shared by every task", now)
	if have := <-second; len(have) != 1 {
		t.Errorf("second task after the transfer: have %v, want the input", have)
	}

	// A transfer that fails hands the claim on.
	other := wire.FileRef{Name: "b.txt", SHA256: strings.Repeat("b", 64), Size: 1}
	_, need, _ = c.acquire(t.Context(), []wire.FileRef{other}, now)
	third := make(chan []string, 1)
	go func() {
		_, need, _ := c.acquire(t.Context(), []wire.FileRef{other}, now)
		third <- need
	}()
	c.unclaim(need)
	if need := <-third; len(need) != 1 {
		t.Errorf("after a failed transfer the waiting task needs %v, want to receive it itself", need)
	}
}
