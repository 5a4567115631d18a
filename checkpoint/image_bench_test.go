package checkpoint

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkImage measures Pack and Unpack on a 100 MiB folder of random
// bytes (like a criu dump's pages): each alone, and streamed through a pipe
// from one to the other.
//
//	go test ./checkpoint -run '^$' -bench Image
func BenchmarkImage(b *testing.B) {
	src := b.TempDir()
	buf := make([]byte, 100<<20)
	rnd := rand.New(rand.NewPCG(3, 4))
	for i := 0; i+8 <= len(buf); i += 8 {
		v := rnd.Uint64()
		for j := range 8 {
			buf[i+j] = byte(v >> (8 * j))
		}
	}
	if err := os.WriteFile(filepath.Join(src, "pages-1.img"), buf, 0o600); err != nil {
		b.Fatal(err)
	}
	b.Run("pack", func(b *testing.B) {
		b.SetBytes(int64(len(buf)))
		for range b.N {
			if _, err := Pack(b.Context(), io.Discard, src, Manifest{Backend: CRIU, Task: "bench"}); err != nil {
				b.Fatal(err)
			}
		}
	})
	var img bytes.Buffer
	if _, err := Pack(b.Context(), &img, src, Manifest{Backend: CRIU, Task: "bench"}); err != nil {
		b.Fatal(err)
	}
	b.Run("unpack", func(b *testing.B) {
		b.SetBytes(int64(len(buf)))
		for range b.N {
			if _, err := Unpack(b.Context(), bytes.NewReader(img.Bytes()), filepath.Join(b.TempDir(), "img"), UnpackOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("pack+unpack", func(b *testing.B) {
		b.SetBytes(int64(len(buf)))
		for range b.N {
			transfer(b, src, filepath.Join(b.TempDir(), "img"))
		}
	})
}

// transfer packs src into a pipe and unpacks it into dst at the same time,
// as sender and receiver of a stream would. It returns the files' size
// and the compressed stream's.
func transfer(b testing.TB, src, dst string) (files, stream int64) {
	pr, pw := io.Pipe()
	counted := &countingWriter{w: pw}
	packed := make(chan *Manifest, 1)
	go func() {
		m, err := Pack(b.Context(), counted, src, Manifest{Backend: CRIU, Task: "bench"})
		pw.CloseWithError(err)
		packed <- m
	}()
	got, err := Unpack(b.Context(), pr, dst, UnpackOptions{})
	if err != nil {
		b.Fatal(err)
	}
	if m := <-packed; m == nil || m.ID != got.ID {
		b.Fatalf("unpacked image %s, packed %v", got.ID, m)
	}
	return got.TotalBytes(), counted.n
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
