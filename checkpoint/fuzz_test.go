package checkpoint

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// fuzzLimits keep each fuzz input cheap whatever its manifest claims.
var fuzzLimits = Limits{MaxFiles: 16, MaxFileBytes: 1 << 20, MaxTotalBytes: 1 << 20}

// FuzzUnpack feeds Unpack arbitrary streams: it must never panic, and
// whatever it accepts must be exactly what the manifest promised, while
// whatever it rejects must leave nothing behind.
//
//	go test ./checkpoint -run '^$' -fuzz FuzzUnpack -fuzztime 60s
func FuzzUnpack(f *testing.F) {
	for _, seed := range fuzzSeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, img []byte) {
		dst := filepath.Join(t.TempDir(), "img")
		m, err := Unpack(context.Background(), bytes.NewReader(img), dst, UnpackOptions{Limits: fuzzLimits})
		checkUnpacked(t, dst, m, err)
	})
}

// FuzzReadPayload fuzzes the decoder under zstd, which would otherwise
// reject most mutations at its checksum before they reach the manifest.
//
//	go test ./checkpoint -run '^$' -fuzz FuzzReadPayload -fuzztime 60s
func FuzzReadPayload(f *testing.F) {
	dec, err := zstd.NewReader(nil)
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range fuzzSeeds(f) {
		if raw, err := dec.DecodeAll(seed, nil); err == nil {
			f.Add(raw)
		}
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		dst := t.TempDir()
		m, err := readPayload(context.Background(), bytes.NewReader(payload), dst, fuzzLimits, "")
		if err != nil {
			return // the caller removes dst
		}
		checkUnpacked(t, dst, m, nil)
	})
}

// FuzzReadManifest: the home's quick check of an image it keeps must
// never panic, and a manifest it accepts is the one Unpack finds.
//
//	go test ./checkpoint -run '^$' -fuzz FuzzReadManifest -fuzztime 60s
func FuzzReadManifest(f *testing.F) {
	for _, seed := range fuzzSeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, img []byte) {
		m, err := ReadManifest(bytes.NewReader(img))
		if err != nil {
			return
		}
		if len(m.ID) != 64 || m.Format != FormatVersion {
			t.Fatalf("accepted manifest %+v: want an ID and format %d", m, FormatVersion)
		}
		dst := filepath.Join(t.TempDir(), "img")
		if full, err := Unpack(context.Background(), bytes.NewReader(img), dst, UnpackOptions{Limits: fuzzLimits}); err == nil && full.ID != m.ID {
			t.Fatalf("ReadManifest says %s, Unpack %s", m.ID, full.ID)
		}
	})
}

func fuzzSeeds(f *testing.F) [][]byte {
	golden, err := os.ReadFile(goldenV1Path)
	if err != nil {
		f.Fatal(err)
	}
	small := rawImage(f, oneFile("a/b", []byte("hello")), []byte("hello"))
	return [][]byte{golden, small, golden[:len(golden)/2], nil}
}

func checkUnpacked(t *testing.T, dst string, m *Manifest, err error) {
	if err != nil {
		if _, serr := os.Lstat(dst); serr == nil {
			t.Fatalf("Unpack failed (%v) but left %s", err, dst)
		}
		return
	}
	for _, f := range m.Files {
		b, err := os.ReadFile(filepath.Join(dst, filepath.FromSlash(f.Path)))
		if err != nil {
			t.Fatalf("accepted image lacks %s: %v", f.Path, err)
		}
		sum := sha256.Sum256(b)
		if int64(len(b)) != f.Size || hex.EncodeToString(sum[:]) != f.SHA256 {
			t.Fatalf("accepted image's %s differs from its manifest", f.Path)
		}
	}
}
