package checkpoint

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// BenchmarkCriu measures a migration's steps for guests with 10 MiB,
// 100 MiB and 1 GiB of touched memory, random (incompressible, zstd's worst
// case) or text-like: criu dump and restore alone, and the same image
// through Pack and Unpack (zstd, SHA-256, streamed through a pipe
// in-process: a transfer without the network) and restored again. Sender
// and receiver share this machine's cores here; on a real migration each
// has its own, and the network link is the bound.
//
//	go test ./checkpoint -run '^$' -bench Criu -benchtime 1x
func BenchmarkCriu(b *testing.B) {
	c := needCRIU(b)
	for _, bc := range []struct {
		mib  int
		fill string
	}{{10, "random"}, {100, "random"}, {1024, "random"}, {100, "text"}, {1024, "text"}} {
		b.Run(fmt.Sprintf("mem=%dMiB/%s", bc.mib, bc.fill), func(b *testing.B) {
			var sum migrationTimes
			for range b.N {
				sum.add(migrateOnce(b, c, bc.mib, bc.fill))
			}
			sum.report(b, fmt.Sprintf("%d MiB %s", bc.mib, bc.fill))
		})
	}
}

type migrationTimes struct {
	n                                 int
	dump, restore, transfer, restore2 time.Duration
	imageBytes, streamBytes           int64
}

func (s *migrationTimes) add(o migrationTimes) {
	s.n++
	s.dump += o.dump
	s.restore += o.restore
	s.transfer += o.transfer
	s.restore2 += o.restore2
	s.imageBytes, s.streamBytes = o.imageBytes, o.streamBytes
}

func (s *migrationTimes) report(b *testing.B, guest string) {
	ms := func(d time.Duration) float64 { return float64(d) / float64(s.n) / 1e6 }
	raw := ms(s.dump) + ms(s.restore)
	total := ms(s.dump) + ms(s.transfer) + ms(s.restore2)
	b.ReportMetric(ms(s.dump), "dump-ms")
	b.ReportMetric(ms(s.restore), "restore-ms")
	b.ReportMetric(ms(s.transfer), "pack+unpack-ms")
	b.ReportMetric(total/raw, "x-raw")
	b.ReportMetric(0, "ns/op") // the steps above are what counts, not the loop
	b.Logf("%s: criu dump %.0f ms + restore %.0f ms = %.0f ms raw; via image: dump + pack/unpack %.0f ms (%.1f MiB -> %.1f MiB zstd) + restore %.0f ms = %.0f ms (%.2fx raw)",
		guest, ms(s.dump), ms(s.restore), raw, ms(s.transfer), float64(s.imageBytes)/(1<<20),
		float64(s.streamBytes)/(1<<20), ms(s.restore2), total, total/raw)
}

// migrateOnce starts a guest, dumps it, restores it from the raw images,
// then ships those images through Pack/Unpack and restores that copy.
func migrateOnce(b *testing.B, c *CRIUBackend, mib int, fill string) migrationTimes {
	b.StopTimer()
	defer b.StartTimer()
	var t migrationTimes
	dir := b.TempDir()
	r, w, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd := startGuest(b, "counter", w, envMemMiB+"="+strconv.Itoa(mib), envMemFill+"="+fill)
	w.Close()
	var cs counts
	cs.read(r)
	cs.waitFor(b, 5, nil)

	raw := filepath.Join(dir, "raw")
	start := time.Now()
	if err := c.Dump(b.Context(), cmd.Process.Pid, raw, DumpOptions{}); err != nil {
		b.Fatal(err)
	}
	t.dump = time.Since(start)
	cmd.Wait()
	t.restore = restoreOnce(b, c, raw)

	start = time.Now()
	shipped := filepath.Join(dir, "shipped")
	t.imageBytes, t.streamBytes = transfer(b, raw, shipped)
	t.transfer = time.Since(start)
	t.restore2 = restoreOnce(b, c, shipped)
	return t
}

// restoreOnce restores the guest in dir with a new stdout pipe, checks
// that it counts on, and kills it.
func restoreOnce(b *testing.B, c *CRIUBackend, dir string) time.Duration {
	keys, err := StdioKeys(dir)
	if err != nil {
		b.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	start := time.Now()
	p, err := c.Restore(b.Context(), dir, RestoreOptions{Inherit: map[string]*os.File{keys[1]: w}})
	took := time.Since(start)
	w.Close()
	if err != nil {
		b.Fatal(err)
	}
	var cs counts
	cs.read(r)
	cs.waitFor(b, 5, nil)
	p.Kill()
	p.Wait()
	return took
}
