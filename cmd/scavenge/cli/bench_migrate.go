package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/scavenge/scavenge/checkpoint"
	"github.com/scavenge/scavenge/policy"
	"github.com/scavenge/scavenge/scavenger"
)

// migrateResult is, per guest size, a migration through the swarm beside
// criu alone on the same process.
type migrateResult struct {
	Sizes []migrateFigures `json:"sizes"`
}

// migrateFigures are one guest size's times, in milliseconds.
type migrateFigures struct {
	MiB int `json:"mib"`
	// criu alone: dump to local disk, restore from it.
	RawDump    float64 `json:"raw_dump_ms"`
	RawRestore float64 `json:"raw_restore_ms"`
	// Through scavenge: the owner's return to the guest frozen (seen in
	// the kernel), then each step as the donors report them, and the
	// owner's return to the guest running on the other donor.
	Frozen     float64 `json:"frozen_ms"`
	Dump       float64 `json:"dump_ms"`
	Pack       float64 `json:"pack_ms"`
	Send       float64 `json:"send_home_ms"`
	Receive    float64 `json:"receive_ms"`
	Unpack     float64 `json:"unpack_ms"`
	Restore    float64 `json:"restore_ms"`
	Total      float64 `json:"total_ms"`
	ImageBytes int64   `json:"image_bytes"`
}

func migrateBenchmark() benchmark {
	var sizes string
	var rootGuests bool
	return benchmark{
		help: `Moves a guest holding --sizes MiB of memory (dd with a buffer that size)
from one donor to another with criu, through a home, as the owner's return
does with action "migrate"; and, for each size, dumps and restores the same
program with criu alone. It prints the time until the guest is frozen (the
owner has the CPU back), each step (dump, pack, send home, receive, unpack,
restore), the total from the owner's return to the guest running again, and
the total over criu alone. Needs root and a criu that can dump guests here
(see scavenge status: checkpoints).

--root-guests runs the benchmark's guests (its own dd, nothing else) as
root, for machines whose root lacks CAP_SYS_RESOURCE, without which criu
cannot dump a process of another user (some containers). A daemon never
runs guests as root.`,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&sizes, "sizes", "10,100,1024", "guest memory sizes in `MiB`, comma-separated")
			fs.BoolVar(&rootGuests, "root-guests", false, "run the benchmark's own guests as root (see above)")
		},
		check: func() error { _, err := parseSizes(sizes); return err },
		run: func(ctx context.Context, log *slog.Logger) (benchResult, error) {
			mibs, _ := parseSizes(sizes)
			return measureMigration(ctx, log, mibs, rootGuests)
		},
	}
}

func parseSizes(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 16<<10 {
			return nil, fmt.Errorf("--sizes %q: want MiB from 1 to 16384, comma-separated", s)
		}
		out = append(out, n)
	}
	return out, nil
}

// memoryGuest is a program holding mib MiB of touched memory, forever:
// dd reads zeros into a buffer that size, again and again.
func memoryGuest(mib int) []string {
	return []string{"dd", "if=/dev/zero", "of=/dev/null", fmt.Sprintf("bs=%dM", mib), "count=2000000000"}
}

func measureMigration(ctx context.Context, log *slog.Logger, mibs []int, rootGuests bool) (*migrateResult, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("criu needs root")
	}
	crb := checkpoint.NewCRIU("")
	sw, err := newInprocSwarm(ctx, "scavenge-bench-", log)
	if err != nil {
		return nil, err
	}
	home, err := sw.add(ctx, inprocSpec{Name: "home"})
	if err != nil {
		return nil, joinClose(err, sw)
	}
	var donors []*inprocPeer
	for _, name := range []string{"desk-a", "desk-b"} {
		d, err := sw.add(ctx, inprocSpec{Name: name, Bootstrap: home.node.Addrs(), Donate: true, Slots: 1, Dedicated: true, CRIU: crb,
			RootGuests: rootGuests, OnReturn: policy.OnReturn{Action: policy.ActionMigrate, Grace: time.Minute}})
		if err != nil {
			if strings.Contains(err.Error(), "CAP_SYS_RESOURCE") {
				err = fmt.Errorf("%w; --root-guests measures with the benchmark's guests as root", err)
			}
			return nil, joinClose(err, sw)
		}
		donors = append(donors, d)
	}
	if _, err := waitIdle(ctx, home, donors); err != nil {
		return nil, joinClose(err, sw)
	}
	res := &migrateResult{}
	for _, mib := range mibs {
		f := migrateFigures{MiB: mib}
		if err := rawCRIU(ctx, crb, mib, &f); err != nil {
			return nil, joinClose(fmt.Errorf("%d MiB: criu alone: %w", mib, err), sw)
		}
		if err := migrateOnce(ctx, home, donors[0], donors[1], mib, &f); err != nil {
			return nil, joinClose(fmt.Errorf("%d MiB: %w", mib, err), sw)
		}
		res.Sizes = append(res.Sizes, f)
		// The next size starts on a again.
		donors[0], donors[1] = donors[1], donors[0]
	}
	return res, sw.close()
}

// migrateOnce runs a guest on from, has from's owner return and waits
// until the guest runs on to.
func migrateOnce(ctx context.Context, home, from, to *inprocPeer, mib int, f *migrateFigures) error {
	to.eng.Pause("bench: the guest starts on the other donor")
	defer to.eng.Resume()
	id, err := home.eng.Submit(ctx, scavenger.SubmitRequest{Argv: memoryGuest(mib), Checkpoint: checkpoint.CRIU})
	if err != nil {
		return err
	}
	defer home.eng.Cancel(id, "bench done")
	pid := 0
	if err := pollUntil(ctx, time.Minute, func() bool {
		if gs := from.eng.Status().Guests; len(gs) == 1 && gs[0].Pid > 0 {
			pid = gs[0].Pid
		}
		return pid > 0 && residentMiB(pid) >= mib
	}); err != nil {
		return fmt.Errorf("the guest never held %d MiB on %s: %w", mib, from.name, err)
	}
	to.eng.Resume()
	before := to.eng.Stats().LastResume
	t0 := time.Now()
	from.eng.Pause("bench: the owner is back")
	defer from.eng.Resume()
	if err := pollUntil(ctx, time.Minute, func() bool { return guestFrozen(pid) }); err == nil {
		f.Frozen = ms(time.Since(t0))
	}
	if err := pollUntil(ctx, 2*time.Minute, func() bool {
		r := to.eng.Stats().LastResume
		return r != nil && r != before && len(to.eng.Status().Guests) == 1
	}); err != nil {
		j, _ := home.eng.Job(id)
		return fmt.Errorf("the guest did not resume on %s: %w (task: %s)", to.name, err, taskReason(j))
	}
	f.Total = ms(time.Since(t0))
	m, r := from.eng.Stats().LastMigration, to.eng.Stats().LastResume
	if m == nil {
		return errors.New("the donor reported no migration")
	}
	f.Dump, f.Pack, f.Send, f.ImageBytes = ms(m.Dump), ms(m.Pack), ms(m.Send), m.Bytes
	f.Receive, f.Unpack, f.Restore = ms(r.Receive), ms(r.Unpack), ms(r.Restore)
	return nil
}

func taskReason(j scavenger.Job) string {
	if len(j.Tasks) == 0 {
		return string(j.State)
	}
	return string(j.Tasks[0].State) + ": " + j.Tasks[0].Reason
}

// rawCRIU dumps and restores the same program with criu alone, the way a
// migratable guest runs (own PID namespace and session, output on a pipe).
func rawCRIU(ctx context.Context, crb *checkpoint.CRIUBackend, mib int, f *migrateFigures) error {
	dir, err := os.MkdirTemp("", "scavenge-bench-criu-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	argv := memoryGuest(mib)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	cmd.SysProcAttr = ownPIDNamespace()
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	if err := pollUntil(ctx, time.Minute, func() bool { return residentMiB(cmd.Process.Pid) >= mib }); err != nil {
		return fmt.Errorf("dd never held %d MiB: %w", mib, err)
	}
	images := filepath.Join(dir, "images")
	t0 := time.Now()
	if err := crb.Dump(ctx, cmd.Process.Pid, images, checkpoint.DumpOptions{}); err != nil {
		return err
	}
	f.RawDump = ms(time.Since(t0))
	cmd.Wait()
	keys, err := checkpoint.StdioKeys(images)
	if err != nil {
		return err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	go io.Copy(io.Discard, r)
	inherit := map[string]*os.File{}
	for _, k := range keys[1:] {
		if k != "" {
			inherit[k] = w
		}
	}
	t0 = time.Now()
	p, err := crb.Restore(ctx, images, checkpoint.RestoreOptions{Inherit: inherit})
	f.RawRestore = ms(time.Since(t0))
	w.Close()
	if err != nil {
		return err
	}
	p.Kill()
	p.Wait()
	return nil
}

// residentMiB is the resident memory of pid and its descendants (a
// migratable guest's pid is its init's), 0 when unknown.
func residentMiB(pid int) int {
	kb := 0
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok && err == nil {
			kb, _ = strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		}
	}
	children, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	mib := kb >> 10
	for _, c := range strings.Fields(string(children)) {
		if n, err := strconv.Atoi(c); err == nil {
			mib += residentMiB(n)
		}
	}
	return mib
}

func (r *migrateResult) print(w io.Writer) {
	tw := newTable(w)
	row(tw, "GUEST", "CRIU ALONE", "FROZEN", "DUMP", "PACK", "SEND HOME", "RECEIVE", "UNPACK", "RESTORE", "TOTAL", "TOTAL/CRIU", "IMAGE")
	for _, f := range r.Sizes {
		raw := f.RawDump + f.RawRestore
		row(tw, fmt.Sprintf("%d MiB", f.MiB), fmt.Sprintf("%.0f+%.0f ms", f.RawDump, f.RawRestore), msText(f.Frozen),
			msText(f.Dump), msText(f.Pack), msText(f.Send), msText(f.Receive), msText(f.Unpack), msText(f.Restore),
			msText(f.Total), fmt.Sprintf("%.2fx", f.Total/raw), humanBytes(uint64(f.ImageBytes)))
	}
	tw.Flush()
	fmt.Fprintln(w, "FROZEN: the owner's return until the guest's cgroup is frozen (the owner has the CPU back);")
	fmt.Fprintln(w, "TOTAL: the owner's return until the guest runs on the other donor (dump, pack, home and back, restore).")
}

func msText(v float64) string { return fmt.Sprintf("%.0f ms", v) }
