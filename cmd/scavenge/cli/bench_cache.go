package cli

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/scavenge/scavenge/scavenger"
)

// cacheResult is what crossed the network for tasks sharing one input.
type cacheResult struct {
	Tasks      int              `json:"tasks"`
	InputBytes int64            `json:"input_bytes"`
	Donors     int              `json:"donors"`
	Sent       map[string]int64 `json:"sent_bytes"` // by donor name
	Total      int64            `json:"total_bytes"`
	Seconds    float64          `json:"seconds"`
}

func cacheBenchmark() benchmark {
	var tasks, donors int
	var size int64
	return benchmark{
		help: `Submits one job whose tasks all read the same input file and counts the
task-stream bytes the home sent to each donor: each donor should receive
the input once, whatever the number of tasks.`,
		flags: func(fs *flag.FlagSet) {
			fs.IntVar(&tasks, "tasks", 100, "tasks in the job")
			fs.IntVar(&donors, "donors", 2, "donor peers")
			fs.Int64Var(&size, "size", 50<<20, "bytes of the shared input")
		},
		check: func() error {
			if tasks < 1 || donors < 1 || size < 1 {
				return fmt.Errorf("--tasks %d --donors %d --size %d: want positive values", tasks, donors, size)
			}
			return nil
		},
		run: func(ctx context.Context, log *slog.Logger) (benchResult, error) {
			return measureCache(ctx, log, tasks, donors, size)
		},
	}
}

func measureCache(ctx context.Context, log *slog.Logger, tasks, donors int, size int64) (_ *cacheResult, err error) {
	sw, err := newInprocSwarm(ctx, "scavenge-bench-", log)
	if err != nil {
		return nil, err
	}
	defer func() { err = joinClose(err, sw) }()
	home, err := sw.add(ctx, inprocSpec{Name: "home", Meter: true})
	if err != nil {
		return nil, err
	}
	var ds []*inprocPeer
	names := map[string]string{}
	for i := range donors {
		d, err := sw.add(ctx, inprocSpec{Name: fmt.Sprintf("donor%d", i+1), Bootstrap: home.node.Addrs(), Donate: true, Dedicated: true})
		if err != nil {
			return nil, err
		}
		ds = append(ds, d)
		names[d.node.ID()] = d.name
	}
	if _, err := waitIdle(ctx, home, ds); err != nil {
		return nil, err
	}
	input := filepath.Join(sw.dir, "shared.bin")
	if err := writeRandomFile(input, size); err != nil {
		return nil, err
	}
	req := scavenger.SubmitRequest{Name: "shared input", Inputs: []string{input}}
	for range tasks {
		req.Tasks = append(req.Tasks, scavenger.TaskRequest{Argv: []string{"sh", "-c", "test -s shared.bin"}})
	}
	start := time.Now()
	id, err := home.eng.Submit(ctx, req)
	if err != nil {
		return nil, err
	}
	j, err := waitJob(ctx, home, id)
	if err != nil {
		return nil, err
	}
	if j.State != scavenger.StateDone {
		return nil, fmt.Errorf("job %s: %s (%s)", id, j.State, j.Reason)
	}
	res := &cacheResult{Tasks: tasks, InputBytes: size, Donors: donors, Sent: map[string]int64{}, Seconds: time.Since(start).Seconds()}
	for peer, n := range home.meter.Sent() {
		res.Sent[names[peer]] += n
		res.Total += n
	}
	return res, nil
}

// writeRandomFile writes size random bytes to path: an input nothing can
// compress or guess.
func writeRandomFile(path string, size int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.CopyN(f, rand.Reader, size); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

func (r *cacheResult) print(w io.Writer) {
	fmt.Fprintf(w, "input caching: %d tasks sharing one %s input, over %d donors (in this process, loopback TCP)\n\n",
		r.Tasks, humanBytes(uint64(r.InputBytes)), r.Donors)
	tw := newTable(w)
	row(tw, "donor", "task-stream bytes sent", "inputs' worth")
	var names []string
	for n := range r.Sent {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		row(tw, n, humanBytes(uint64(r.Sent[n])), fmt.Sprintf("%.2f", float64(r.Sent[n])/float64(r.InputBytes)))
	}
	row(tw, "all", humanBytes(uint64(r.Total)), fmt.Sprintf("%.2f (without the cache: %d)", float64(r.Total)/float64(r.InputBytes), r.Tasks))
	tw.Flush()
	fmt.Fprintf(w, "\nthe job took %.1f s\n", r.Seconds)
}
