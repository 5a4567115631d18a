package checkpoint

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestCRIUCheck: the backend reports itself usable, with a version criu
// itself gave.
func TestCRIUCheck(t *testing.T) {
	c := needCRIU(t)
	v, err := c.Version(t.Context())
	if err != nil || v < MinCRIUVersion {
		t.Fatalf("Version() = %d, %v; want >= %d", v, err, MinCRIUVersion)
	}
	names, why := Usable(t.Context(), c, SignalBackend{}, NoneBackend{})
	if strings.Join(names, ",") != "criu,signal,none" || len(why) != 0 {
		t.Errorf("Usable = %q, %v; want criu, signal and none", names, why)
	}
	t.Logf("criu %s at %s", versionString(v), c.Path())
}

// TestCRIUMissingBinary: a wrong path is reported, naming it.
func TestCRIUMissingBinary(t *testing.T) {
	bogus := filepath.Join(t.TempDir(), "no-criu")
	err := NewCRIU(bogus).Check(t.Context())
	if err == nil || (os.Geteuid() == 0 && !strings.Contains(err.Error(), bogus)) {
		t.Errorf("Check with criu at %s = %v, want an error naming the path", bogus, err)
	}
}

// TestCRIUDumpRestore: a counting guest, dumped (which kills it) and
// restored, goes on counting from where it was, in a new PID namespace,
// as a child of the caller.
func TestCRIUDumpRestore(t *testing.T) {
	c := needCRIU(t)
	dir := t.TempDir()
	outPath := filepath.Join(dir, "out.txt")
	out, err := os.Create(outPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := startGuest(t, "counter", out)
	out.Close()
	var cs counts
	refresh := func() { cs.readFile(t, outPath) }
	cs.waitFor(t, 20, refresh)

	images := filepath.Join(dir, "images")
	if err := c.Dump(t.Context(), cmd.Process.Pid, images, DumpOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("guest after dump: Wait() = %v, want killed by criu", err)
	}
	refresh()
	before, _ := cs.snapshot()
	consecutive(t, before)

	p, err := c.Restore(t.Context(), images, RestoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	after := cs.waitFor(t, len(before)+50, refresh)
	consecutive(t, after) // no "1" again: it resumed
	if ns, _ := os.Readlink("/proc/" + strconv.Itoa(p.Pid) + "/ns/pid"); ns == selfPIDNS(t) {
		t.Errorf("restored guest %d shares our PID namespace %s, want its own", p.Pid, ns)
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	st, err := p.Wait()
	if err != nil {
		t.Fatalf("Wait on restored guest %d: %v (the caller must be its parent)", p.Pid, err)
	}
	if ws, ok := st.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		t.Errorf("restored guest ended with %v, want killed", st)
	}
	t.Logf("dumped at %d, restored guest %d counted on to %d", len(before), p.Pid, len(after))
}

// TestCRIUPipeStdio: the engine reads a guest's output through a pipe and,
// after a restore, hands criu a new pipe for the old one; the output stream
// goes on without a gap or a repeat. With LeaveRunning the guest keeps
// counting after the checkpoint, and a restore from it repeats what came
// after: that is the work lost with a periodic checkpoint.
func TestCRIUPipeStdio(t *testing.T) {
	c := needCRIU(t)
	for _, leaveRunning := range []bool{false, true} {
		name := map[bool]string{false: "migrate", true: "periodic"}[leaveRunning]
		t.Run(name, func(t *testing.T) {
			r1, w1, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd := startGuest(t, "counter", w1)
			w1.Close()
			var cs counts
			done := cs.read(r1)
			cs.waitFor(t, 20, nil)

			images := filepath.Join(t.TempDir(), "images")
			readBefore, _ := cs.snapshot()
			if err := c.Dump(t.Context(), cmd.Process.Pid, images, DumpOptions{LeaveRunning: leaveRunning}); err != nil {
				t.Fatal(err)
			}
			if leaveRunning {
				atDump, _ := cs.snapshot()
				cs.waitFor(t, len(atDump)+100, nil) // it goes on after a periodic checkpoint
			}
			cmd.Process.Kill()
			cmd.Wait()
			<-done // everything the first run wrote, up to its end
			before, _ := cs.snapshot()
			consecutive(t, before)

			keys, err := StdioKeys(images)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(keys[1], "pipe:[") {
				t.Fatalf("stdout key = %q, want pipe:[...]", keys[1])
			}
			r2, w2, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			p, err := c.Restore(t.Context(), images, RestoreOptions{Inherit: map[string]*os.File{keys[1]: w2}})
			w2.Close()
			if err != nil {
				t.Fatal(err)
			}
			defer func() { p.Kill(); p.Wait() }()
			var resumed counts
			resumed.read(r2)
			more := resumed.waitFor(t, 50, nil)
			// The restored guest starts after the count it had at the dump,
			// which lies between what was read before the dump began and
			// what it printed before it was killed.
			first := more[0]
			if first <= len(readBefore) || first > len(before)+1 {
				t.Fatalf("restored guest printed %v first; before the dump %d had been read, %d in all", first, len(readBefore), len(before))
			}
			if !leaveRunning && first != len(before)+1 {
				t.Errorf("after a migration the stream goes on at %d, want %d (no gap, no repeat)", first, len(before)+1)
			}
			for i, n := range more {
				if n != first+i {
					t.Fatalf("restored guest printed %v, want consecutive numbers", more[:i+1])
				}
			}
			t.Logf("%d numbers before, restored guest went on from %d (%d repeated)", len(before), first, len(before)+1-first)
		})
	}
}

// TestCRIUTCPRefused: a guest with an open TCP connection cannot be dumped
// for migration; the error says why, and the guest runs on untouched (the
// engine then applies the policy's fallback).
func TestCRIUTCPRefused(t *testing.T) {
	c := needCRIU(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := startGuest(t, "counter", w, envDial+"="+ln.Addr().String())
	w.Close()
	conn, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var cs counts
	cs.read(r)
	cs.waitFor(t, 10, nil)

	err = c.Dump(t.Context(), cmd.Process.Pid, filepath.Join(t.TempDir(), "images"), DumpOptions{})
	if err == nil {
		t.Fatal("Dump of a guest with an open TCP connection succeeded, want an error")
	}
	var ce *CRIUError
	if !errors.As(err, &ce) || !strings.Contains(ce.Reason, "TCP") {
		t.Errorf("Dump error = %v, want a *CRIUError saying the TCP connection is why", err)
	}
	n, _ := cs.snapshot()
	cs.waitFor(t, len(n)+20, nil) // still counting
	t.Logf("refused as expected: %v", err)
}

// TestCRIUCancelled: a cancelled context stops a dump before it starts.
func TestCRIUCancelled(t *testing.T) {
	c := NewCRIU("/nonexistent/criu")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := c.Dump(ctx, os.Getpid(), t.TempDir(), DumpOptions{}); err != context.Canceled {
		t.Errorf("Dump with a cancelled context = %v, want context.Canceled", err)
	}
	if _, err := c.Restore(ctx, t.TempDir(), RestoreOptions{}); err != context.Canceled {
		t.Errorf("Restore with a cancelled context = %v, want context.Canceled", err)
	}
}

func selfPIDNS(t *testing.T) string {
	ns, err := os.Readlink("/proc/self/ns/pid")
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

// TestCRIURestoreClash: why migratable guests need their own PID
// namespace. A guest dumped from ours, restored while its PID is taken (by
// itself, still running), fails with criu's reason, as a *CRIUError.
func TestCRIURestoreClash(t *testing.T) {
	c := needCRIU(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envHelper+"=counter")
	cmd.Stdout = w
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // no CLONE_NEWPID
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	var cs counts
	cs.read(r)
	cs.waitFor(t, 10, nil)

	images := filepath.Join(t.TempDir(), "images")
	if err := c.Dump(t.Context(), cmd.Process.Pid, images, DumpOptions{LeaveRunning: true}); err != nil {
		t.Fatal(err)
	}
	p, err := c.Restore(t.Context(), images, RestoreOptions{})
	if err == nil {
		p.Kill()
		p.Wait()
		t.Fatal("restoring a guest whose PID is taken succeeded")
	}
	var ce *CRIUError
	if !errors.As(err, &ce) || ce.Reason == "" {
		t.Fatalf("Restore = %v, want a *CRIUError with a reason", err)
	}
	t.Logf("refused as expected: %s", ce.Reason)
}
