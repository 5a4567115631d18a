package checkpoint

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Every image format version keeps a golden image that this build must
// still read. Regenerate only for a new version, never over an old one:
//
//	go test ./checkpoint -run TestGoldenV1 -v -args -update-golden
var updateGolden = flag.Bool("update-golden", false, "write testdata/golden-v1.img from goldenV1Tree")

const (
	goldenV1Path = "testdata/golden-v1.img"
	// goldenV1ID is the SHA-256 of the golden manifest: a manifest encoded
	// differently for the same content would be a format change.
	goldenV1ID = "b149a50d7b537a5e445ec3ca16769c0bb0f6932a977f534d3d6025e949a9d598"
)

func goldenV1Tree() map[string][]byte {
	pages := make([]byte, 8192)
	for i := range pages {
		pages[i] = byte(i * 7)
	}
	return map[string][]byte{
		"inventory.img":   []byte("criu-like inventory\n"),
		"pages-1.img":     pages,
		"empty.img":       {},
		"state/count.txt": []byte("85\n"),
	}
}

func goldenV1Manifest() Manifest {
	return Manifest{
		Backend: CRIU,
		Task:    "job-golden/task-0",
		Created: time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC),
		Arch:    "amd64",
		Meta:    map[string]string{"criu": "4.1.1"},
	}
}

func writeTree(t testing.TB, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	for name, b := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, 0o644); err != nil { // whatever the umask: modes are in the manifest
			t.Fatal(err)
		}
	}
	return dir
}

func TestGoldenV1(t *testing.T) {
	if *updateGolden {
		f, err := os.Create(goldenV1Path)
		if err != nil {
			t.Fatal(err)
		}
		m, err := Pack(t.Context(), f, writeTree(t, goldenV1Tree()), goldenV1Manifest())
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s, ID %s: put it in goldenV1ID", goldenV1Path, m.ID)
	}
	img, err := os.ReadFile(goldenV1Path)
	if err != nil {
		t.Fatalf("%v (generate it with -update-golden)", err)
	}
	dst := filepath.Join(t.TempDir(), "img")
	m, err := Unpack(t.Context(), bytes.NewReader(img), dst, UnpackOptions{WantID: goldenV1ID})
	if err != nil {
		t.Fatalf("this build cannot read the format 1 golden image: %v", err)
	}
	want := goldenV1Manifest()
	if m.Format != 1 || m.Backend != want.Backend || m.Task != want.Task || !m.Created.Equal(want.Created) ||
		m.Arch != want.Arch || m.Meta["criu"] != "4.1.1" || len(m.Files) != 4 {
		t.Errorf("golden manifest = %+v, want format 1 and %+v", m, want)
	}
	checkTree(t, dst, goldenV1Tree())

	// Packing the same content again gives the same manifest, so the same ID.
	_, again := packBytes(t, writeTree(t, goldenV1Tree()), goldenV1Manifest())
	if FormatVersion == 1 && again.ID != goldenV1ID {
		t.Errorf("packing the golden content now gives image %s, the golden one is %s: the manifest encoding changed, which needs a new format version", again.ID, goldenV1ID)
	}
}
