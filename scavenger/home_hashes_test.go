package scavenger

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"
)

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// settledHashes is an inputHashes that sees every file as written long
// ago, as the files of a real job usually are (files written within
// hashRacyWindow are never remembered).
func settledHashes() *inputHashes {
	c := newInputHashes()
	c.now = func() time.Time { return time.Now().Add(time.Hour) }
	return c
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestInputHashesRehashOnChange(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, path string) string // returns the new content, "" for unchanged
		rehash bool
	}{
		{"unchanged", func(t *testing.T, path string) string { return "" }, false},
		{"appended", func(t *testing.T, path string) string {
			writeFile(t, path, "hello world, and more")
			return "hello world, and more"
		}, true},
		{"rewritten, same size", func(t *testing.T, path string) string {
			writeFile(t, path, "HELLO WORLD")
			return "HELLO WORLD"
		}, true},
		{"rewritten, same size, modification time put back", func(t *testing.T, path string) string {
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, path, "jello world")
			if err := os.Chtimes(path, fi.ModTime(), fi.ModTime()); err != nil {
				t.Fatal(err)
			}
			if runtime.GOOS != "linux" && runtime.GOOS != "darwin" {
				t.Skip("only the change time tells, and this OS does not report it")
			}
			return "jello world"
		}, true},
		{"another file renamed over it, same size and time", func(t *testing.T, path string) string {
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			other := path + ".new"
			writeFile(t, other, "howdy world")
			if err := os.Chtimes(other, fi.ModTime(), fi.ModTime()); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(other, path); err != nil {
				t.Fatal(err)
			}
			return "howdy world"
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "in.dat")
			writeFile(t, path, "hello world")
			c := settledHashes()
			sha, size, err := c.sum(path)
			if err != nil || sha != sha256Hex([]byte("hello world")) || size != 11 {
				t.Fatalf("first sum = %s %d %v", sha, size, err)
			}
			content := tc.change(t, path)
			want := sha256Hex([]byte("hello world"))
			if content != "" {
				want = sha256Hex([]byte(content))
			}
			sha, _, err = c.sum(path)
			if err != nil || sha != want {
				t.Errorf("second sum = %s, %v; want %s", sha, err, want)
			}
			if got, wantN := c.hashed, map[bool]int{false: 1, true: 2}[tc.rehash]; got != wantN {
				t.Errorf("files read = %d, want %d", got, wantN)
			}
		})
	}
}

func TestInputHashesForgetsNewFiles(t *testing.T) {
	// A file written just now could be rewritten within its timestamps'
	// granularity without them changing: it is read every time.
	path := filepath.Join(t.TempDir(), "fresh.dat")
	writeFile(t, path, "x")
	c := newInputHashes()
	for range 2 {
		if sha, _, err := c.sum(path); err != nil || sha != sha256Hex([]byte("x")) {
			t.Fatalf("sum = %s, %v", sha, err)
		}
	}
	if c.hashed != 2 || len(c.entries) != 0 {
		t.Errorf("files read = %d, remembered %d; want 2 and none", c.hashed, len(c.entries))
	}
}

func TestInputHashesShareAndEvict(t *testing.T) {
	dir := t.TempDir()
	c := settledHashes()
	c.max = 2
	a := filepath.Join(dir, "a")
	writeFile(t, a, "aaa")
	// Many submits of one file at once read it once.
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if sha, _, err := c.sum(a); err != nil || sha != sha256Hex([]byte("aaa")) {
				t.Errorf("sum = %s, %v", sha, err)
			}
		})
	}
	wg.Wait()
	if c.hashed != 1 {
		t.Errorf("16 sums at once read the file %d times, want once", c.hashed)
	}
	// Beyond max, the least recently used goes.
	for _, name := range []string{"b", "c"} {
		writeFile(t, filepath.Join(dir, name), name)
		if _, _, err := c.sum(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := c.entries[a]; ok || len(c.entries) != 2 {
		t.Errorf("remembered %d files, a among them: %v; want b and c", len(c.entries), ok)
	}
	if _, _, err := c.sum(filepath.Join(dir, "missing")); err == nil {
		t.Error("sum of a missing file succeeded")
	}
}

// TestSubmitRehashesChangedInput: a job submitted after its input changed
// carries the new content's hash, even when size and modification time
// stayed the same.
func TestSubmitRehashesChangedInput(t *testing.T) {
	n := startNode(t, "home", Options{})
	n.e.home.hashes.now = func() time.Time { return time.Now().Add(time.Hour) }
	path := filepath.Join(t.TempDir(), "data.txt")
	writeFile(t, path, "version 1")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct {
		rewrite string // "": leave the file alone
		sha     string
		read    int // times the file was hashed so far
	}{
		{"", sha256Hex([]byte("version 1")), 1},
		{"", sha256Hex([]byte("version 1")), 1},
		{"version 2", sha256Hex([]byte("version 2")), 2},
	} {
		if tc.rewrite != "" {
			writeFile(t, path, tc.rewrite)
			if err := os.Chtimes(path, fi.ModTime(), fi.ModTime()); err != nil {
				t.Fatal(err)
			}
		}
		id := submit(t, n, SubmitRequest{Argv: []string{"cat", "data.txt"}, Inputs: []string{path}})
		in, err := n.e.home.st.inputs(id)
		if err != nil || len(in) != 1 {
			t.Fatalf("inputs of %s = %+v, %v", id, in, err)
		}
		n.e.home.hashes.mu.Lock()
		read := n.e.home.hashes.hashed
		n.e.home.hashes.mu.Unlock()
		if in[0].SHA != tc.sha || read != tc.read {
			t.Errorf("submit %d: input sha256 %s after %d reads, want %s after %d", i+1, in[0].SHA, read, tc.sha, tc.read)
		}
	}
}
