package checkpoint

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// sampleTree writes a folder like a checkpoint: a big file of random bytes,
// an empty one, an executable one and one in a subfolder.
func sampleTree(t testing.TB) (dir string, want map[string][]byte) {
	t.Helper()
	dir = t.TempDir()
	rnd := rand.New(rand.NewPCG(1, 2))
	big := make([]byte, 1<<20+123)
	for i := range big {
		big[i] = byte(rnd.Uint32())
	}
	want = map[string][]byte{
		"pages-1.img":     big,
		"empty":           {},
		"run.sh":          []byte("#!/bin/sh\necho hi\n"),
		"state/count.txt": []byte("4242\n"),
	}
	for name, b := range want {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if name == "run.sh" {
			mode = 0o755
		}
		if err := os.WriteFile(p, b, mode); err != nil {
			t.Fatal(err)
		}
	}
	return dir, want
}

// checkTree fails unless dir holds exactly want.
func checkTree(t testing.TB, dir string, want map[string][]byte) {
	t.Helper()
	got := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		b, err := os.ReadFile(p)
		got[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Errorf("unpacked %d files, want %d", len(got), len(want))
	}
	for name, b := range want {
		if !bytes.Equal(got[name], b) {
			t.Errorf("%s: unpacked %d bytes differ from the %d packed", name, len(got[name]), len(b))
		}
	}
}

func packBytes(t testing.TB, dir string, m Manifest) ([]byte, *Manifest) {
	t.Helper()
	var buf bytes.Buffer
	got, err := Pack(context.Background(), &buf, dir, m)
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), got
}

func TestPackUnpack(t *testing.T) {
	src, want := sampleTree(t)
	img, packed := packBytes(t, src, Manifest{Backend: Signal, Task: "job-1/task-3", Meta: map[string]string{"k": "v"}})
	if packed.Format != FormatVersion || packed.Arch != runtime.GOARCH || packed.Created.IsZero() || len(packed.ID) != 64 {
		t.Errorf("Pack manifest = %+v, want format %d, arch %s, a time and an ID", packed, FormatVersion, runtime.GOARCH)
	}
	if len(packed.Files) != len(want) || packed.TotalBytes() != int64(len(want["pages-1.img"])+23) {
		t.Errorf("Pack listed %d files of %d bytes: %+v", len(packed.Files), packed.TotalBytes(), packed.Files)
	}

	dst := filepath.Join(t.TempDir(), "new", "restored")
	got, err := Unpack(t.Context(), bytes.NewReader(img), dst, UnpackOptions{WantID: packed.ID})
	if err != nil {
		t.Fatal(err)
	}
	checkTree(t, dst, want)
	if got.ID != packed.ID || got.Task != "job-1/task-3" || got.Backend != Signal || got.Meta["k"] != "v" ||
		!got.Created.Equal(packed.Created) {
		t.Errorf("Unpack manifest = %+v, want %+v", got, packed)
	}
	if st, err := os.Stat(filepath.Join(dst, "run.sh")); err != nil || st.Mode().Perm() != 0o755 {
		t.Errorf("run.sh mode = %v, %v; want 0755 kept", st.Mode(), err)
	}
	t.Logf("%d bytes in %d files -> %d-byte image %s", packed.TotalBytes(), len(packed.Files), len(img), packed.ID[:12])
}

func TestPackRefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "link")); err != nil {
		t.Skip("no symlinks here:", err)
	}
	_, err := Pack(t.Context(), &bytes.Buffer{}, dir, Manifest{Backend: CRIU, Task: "t"})
	if err == nil || !strings.Contains(err.Error(), "link") {
		t.Errorf("Pack of a folder with a symlink = %v, want an error naming it", err)
	}
}

func TestPackRefusesUnreadableNames(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a:b"), nil, 0o644); err != nil {
		t.Skip("no colons in file names here:", err)
	}
	_, err := Pack(t.Context(), &bytes.Buffer{}, dir, Manifest{Backend: Signal, Task: "t"})
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "a:b") {
		t.Errorf("Pack of a file named a:b = %v, want an error naming it", err)
	}
	if _, err := Pack(t.Context(), &bytes.Buffer{}, t.TempDir(), Manifest{Backend: Signal}); err == nil {
		t.Error("Pack without a task passed")
	}
}

// rawImage builds an image by hand, manifest and all, so that tests can
// make the broken ones Pack never would.
func rawImage(t testing.TB, m Manifest, body []byte) []byte {
	t.Helper()
	head, err := json.Marshal(&m)
	if err != nil {
		t.Fatal(err)
	}
	var payload bytes.Buffer
	payload.WriteString(imageMagic)
	binary.Write(&payload, binary.BigEndian, uint32(len(head)))
	payload.Write(head)
	payload.Write(body)
	return compress(t, payload.Bytes())
}

func compress(t testing.TB, b []byte) []byte {
	t.Helper()
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	return enc.EncodeAll(b, nil)
}

// skippableFrames returns n bytes of zstd skippable frames: valid zstd
// that decodes to nothing.
func skippableFrames(n int) []byte {
	var b []byte
	for len(b) < n {
		frame := make([]byte, 8+4096)
		binary.LittleEndian.PutUint32(frame, 0x184D2A50)
		binary.LittleEndian.PutUint32(frame[4:], 4096)
		b = append(b, frame...)
	}
	return b
}

func hexSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func oneFile(path string, b []byte) Manifest {
	return Manifest{Format: 1, Backend: CRIU, Task: "t", Created: time.Unix(0, 0).UTC(), Arch: "amd64",
		Files: []File{{Path: path, Size: int64(len(b)), SHA256: hexSum(b), Mode: 0o600}}}
}

// TestUnpackRejects: every way an image can be wrong ends in an error of
// the right kind, naming what is wrong, with nothing left behind.
func TestUnpackRejects(t *testing.T) {
	src, _ := sampleTree(t)
	good, packed := packBytes(t, src, Manifest{Backend: CRIU, Task: "t"})
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 0x40
	data := []byte("hello")

	tests := []struct {
		name    string
		img     []byte
		opts    UnpackOptions
		want    error
		mention string
	}{
		{"empty", nil, UnpackOptions{}, ErrNotImage, ""},
		{"plain text", []byte("#!/bin/sh\necho not an image\n"), UnpackOptions{}, ErrNotImage, ""},
		{"zstd of something else", compress(t, []byte("some other stream with enough bytes")), UnpackOptions{}, ErrNotImage, ""},
		{"truncated in the header", good[:20], UnpackOptions{}, ErrTruncated, ""},
		{"truncated in the middle", good[:len(good)/2], UnpackOptions{}, ErrTruncated, ""},
		{"last byte missing", good[:len(good)-1], UnpackOptions{}, ErrTruncated, ""},
		{"a bit flipped", flipped, UnpackOptions{}, ErrCorrupt, ""},
		{"another image announced", good, UnpackOptions{WantID: strings.Repeat("0", 64)}, ErrCorrupt, "announced"},
		{"file over the limit", good, UnpackOptions{Limits: Limits{MaxFileBytes: 1 << 20}}, ErrTooLarge, "pages-1.img"},
		{"too many files", good, UnpackOptions{Limits: Limits{MaxFiles: 3}}, ErrTooLarge, "4 files"},
		{"total over the limit", good, UnpackOptions{Limits: Limits{MaxTotalBytes: packed.TotalBytes() - 1}}, ErrTooLarge, ""},
		{"endless skippable frames", append(rawImage(t, oneFile("a", data), data), skippableFrames(10<<20)...), UnpackOptions{Limits: Limits{MaxTotalBytes: 1000}}, ErrTooLarge, "compressed stream"},
		{"newer format", rawImage(t, func() Manifest { m := oneFile("a", data); m.Format = 2; return m }(), data), UnpackOptions{}, ErrFormat, "version 2"},
		{"format zero", rawImage(t, func() Manifest { m := oneFile("a", data); m.Format = 0; return m }(), data), UnpackOptions{}, ErrCorrupt, "format"},
		{"no task", rawImage(t, func() Manifest { m := oneFile("a", data); m.Task = ""; return m }(), data), UnpackOptions{}, ErrCorrupt, "task"},
		{"path escapes", rawImage(t, oneFile("../evil", data), data), UnpackOptions{}, ErrCorrupt, "../evil"},
		{"absolute path", rawImage(t, oneFile("/etc/evil", data), data), UnpackOptions{}, ErrCorrupt, "/etc/evil"},
		{"unclean path", rawImage(t, oneFile("a//b", data), data), UnpackOptions{}, ErrCorrupt, "a//b"},
		{"windows path", rawImage(t, oneFile(`a\..\..\b`, data), data), UnpackOptions{}, ErrCorrupt, ""},
		{"wrong hash", rawImage(t, oneFile("a", data), []byte("hellO")), UnpackOptions{}, ErrCorrupt, "a has SHA-256"},
		{"short file", rawImage(t, oneFile("a", data), data[:3]), UnpackOptions{}, ErrTruncated, "a"},
		{"trailing data", rawImage(t, oneFile("a", data), append(bytes.Clone(data), '!')), UnpackOptions{}, ErrCorrupt, "after the last file"},
		{"listed twice", rawImage(t, func() Manifest { m := oneFile("a", data); m.Files = append(m.Files, m.Files[0]); return m }(), append(bytes.Clone(data), data...)), UnpackOptions{}, ErrCorrupt, "twice"},
		{"bad sha256 field", rawImage(t, func() Manifest { m := oneFile("a", data); m.Files[0].SHA256 = "xyz"; return m }(), data), UnpackOptions{}, ErrCorrupt, "sha256"},
		{"negative size", rawImage(t, func() Manifest { m := oneFile("a", data); m.Files[0].Size = -1; return m }(), data), UnpackOptions{}, ErrCorrupt, "size"},
		{"setuid mode", rawImage(t, func() Manifest { m := oneFile("a", data); m.Files[0].Mode = 0o4755; return m }(), data), UnpackOptions{}, ErrCorrupt, "mode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			dst := filepath.Join(parent, "img")
			_, err := Unpack(t.Context(), bytes.NewReader(tt.img), dst, tt.opts)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.mention) {
				t.Fatalf("Unpack = %v, want %v mentioning %q", err, tt.want, tt.mention)
			}
			if left, _ := os.ReadDir(parent); len(left) != 0 {
				t.Errorf("after a failed Unpack %s holds %v, want nothing", parent, left)
			}
			t.Log(err)
		})
	}
}

func TestUnpackRefusesExistingDir(t *testing.T) {
	src, _ := sampleTree(t)
	img, _ := packBytes(t, src, Manifest{Backend: CRIU, Task: "t"})
	dst := t.TempDir()
	if _, err := Unpack(t.Context(), bytes.NewReader(img), dst, UnpackOptions{}); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("Unpack into an existing folder = %v, want an error", err)
	}
}
