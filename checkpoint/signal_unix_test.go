//go:build unix

package checkpoint

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestSignalProtocol: a cooperative task, in Go and in shell (the README's
// examples), asked to checkpoint, saves its count and exits 85; its folder
// travels as an image; resumed from it elsewhere, it counts on.
func TestSignalProtocol(t *testing.T) {
	tests := []struct {
		name string
		argv []string
		env  []string
	}{
		{"go", []string{os.Args[0], "-test.run=^$"}, []string{envHelper + "=cooperative"}},
		{"shell", []string{"sh", "testdata/cooperative.sh"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cmd, cs := startCooperative(t, tt.argv, append(tt.env, SignalEnv(dir, false)...))
			cs.waitFor(t, 20, nil)
			if err := RequestCheckpoint(cmd.Process, dir); err != nil {
				t.Fatal(err)
			}
			err := cmd.Wait()
			if !IsCheckpointExit(cmd.ProcessState) {
				t.Fatalf("task asked to checkpoint ended with %v, want exit %d", err, ExitCheckpointed)
			}
			<-cs.done
			before, _ := cs.snapshot()
			consecutive(t, before)

			// Ship the folder as the engine does, then resume from the copy.
			var img bytes.Buffer
			m, err := Pack(t.Context(), &img, dir, Manifest{Backend: Signal, Task: "t"})
			if err != nil {
				t.Fatal(err)
			}
			moved := filepath.Join(t.TempDir(), "moved")
			if _, err := Unpack(t.Context(), &img, moved, UnpackOptions{WantID: m.ID}); err != nil {
				t.Fatal(err)
			}
			if err := PrepareResume(moved); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(moved, RequestFile)); !os.IsNotExist(err) {
				t.Errorf("after PrepareResume %s is still there (%v): the resumed task would checkpoint at once", RequestFile, err)
			}
			_, resumed := startCooperative(t, tt.argv, append(tt.env, SignalEnv(moved, true)...))
			after := resumed.waitFor(t, 20, nil)
			if after[0] != len(before)+1 {
				t.Fatalf("resumed task printed %v first, want %d: it must go on from its checkpoint", after[0], len(before)+1)
			}
			t.Logf("checkpointed at %d, resumed at %d", len(before), after[0])
		})
	}
}

// TestSignalUncooperative: a task that ignores the protocol dies of the
// signal (SIGUSR2's default action) and does not count as checkpointed.
func TestSignalUncooperative(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if err := RequestCheckpoint(cmd.Process, dir); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if IsCheckpointExit(cmd.ProcessState) {
		t.Fatalf("sleep counted as checkpointed: %v", cmd.ProcessState)
	}
	if ws := cmd.ProcessState.Sys().(syscall.WaitStatus); ws.Signal() != syscall.SIGUSR2 {
		t.Errorf("sleep ended with %v, want killed by SIGUSR2", cmd.ProcessState)
	}
	if _, err := os.Stat(filepath.Join(dir, RequestFile)); err != nil {
		t.Errorf("no request file for tasks that poll: %v", err)
	}
}

func TestSelfCheckpointTime(t *testing.T) {
	dir := t.TempDir()
	if _, ok := SelfCheckpointTime(dir); ok {
		t.Fatal("SelfCheckpointTime of a fresh folder says a checkpoint was taken")
	}
	if err := os.WriteFile(filepath.Join(dir, DoneFile), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if at, ok := SelfCheckpointTime(dir); !ok || time.Since(at) > time.Minute {
		t.Errorf("SelfCheckpointTime after writing %s = %v, %v", DoneFile, at, ok)
	}
}

func startCooperative(t *testing.T, argv, env []string) (*exec.Cmd, *counts) {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	// os.Pipe, not StdoutPipe: the test reads to EOF after Wait, which
	// would close a StdoutPipe under the reader.
	out, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = w
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Start()
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if stderr.Len() > 0 {
			t.Logf("task stderr: %s", stderr.String())
		}
	})
	cs := &counts{}
	cs.done = cs.read(out)
	return cmd, cs
}
