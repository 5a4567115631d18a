package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// The cooperative protocol, for tasks that save their own state (any OS,
// and programs that hold sockets, which criu cannot move):
//
//   - The task runs with EnvCheckpointDir naming a folder of its own.
//   - To ask for a checkpoint the daemon creates RequestFile in that folder
//     and, on Unix, sends RequestSignal (SIGUSR2). The task writes its state
//     into the folder and exits with ExitCheckpointed (85, HTCondor's code).
//   - A task may also checkpoint on its own while it runs: it writes its
//     state, then DoneFile last; the daemon copies the folder when DoneFile
//     changes (freezing the task while it copies).
//   - On resume, anywhere, the folder is back in place, RequestFile is
//     gone, and EnvResumed is "1".
//
// testdata/cooperative.sh is a ten-line task in shell that the tests run;
// in Go (the tests run the same as cooperativeMain):
//
//	dir := os.Getenv("SCAVENGE_CHECKPOINT_DIR")
//	n := 0
//	if os.Getenv("SCAVENGE_RESUMED") == "1" {
//		b, _ := os.ReadFile(filepath.Join(dir, "count"))
//		n, _ = strconv.Atoi(string(b))
//	}
//	req := make(chan os.Signal, 1)
//	signal.Notify(req, syscall.SIGUSR2)
//	for ; ; n++ {
//		select {
//		case <-req:
//			os.WriteFile(filepath.Join(dir, "count"), []byte(strconv.Itoa(n)), 0o644)
//			os.Exit(85)
//		default:
//			work(n)
//		}
//	}
const (
	EnvCheckpointDir = "SCAVENGE_CHECKPOINT_DIR"
	EnvResumed       = "SCAVENGE_RESUMED"
	ExitCheckpointed = 85
	RequestFile      = "SCAVENGE_CHECKPOINT_REQUEST"
	DoneFile         = "SCAVENGE_CHECKPOINT_DONE"
)

// SignalBackend is the cooperative backend. It needs nothing from the
// machine; whether a task follows the protocol is the job's promise.
type SignalBackend struct{}

// Name returns Signal.
func (SignalBackend) Name() string { return Signal }

// Check always passes: the protocol needs only a folder and, on Unix, a
// signal.
func (SignalBackend) Check(context.Context) error { return nil }

// SignalEnv returns the environment entries a task gets under the signal
// backend: the folder, and whether it is a resume.
func SignalEnv(dir string, resumed bool) []string {
	env := []string{EnvCheckpointDir + "=" + dir}
	if resumed {
		env = append(env, EnvResumed+"=1")
	}
	return env
}

// RequestCheckpoint asks the task p, whose checkpoint folder is dir, to
// checkpoint and exit: it creates RequestFile, then sends RequestSignal
// where there is one. The task's exit status then says whether it did
// (IsCheckpointExit).
func RequestCheckpoint(p *os.Process, dir string) error {
	path := filepath.Join(dir, RequestFile)
	if err := os.WriteFile(path, []byte(time.Now().UTC().Format(time.RFC3339Nano)+"\n"), 0o644); err != nil {
		return fmt.Errorf("checkpoint request: %w", err)
	}
	if RequestSignal == nil {
		return nil
	}
	if err := p.Signal(RequestSignal); err != nil {
		return fmt.Errorf("checkpoint request to pid %d: %w", p.Pid, err)
	}
	return nil
}

// IsCheckpointExit reports whether a task ended by completing a
// checkpoint, rather than by finishing or failing.
func IsCheckpointExit(st *os.ProcessState) bool {
	return st != nil && st.Exited() && st.ExitCode() == ExitCheckpointed
}

// SelfCheckpointTime returns when the task last completed a checkpoint on
// its own (DoneFile's modification time); ok is false when it never did.
// The daemon polls it and ships the folder when it changes.
func SelfCheckpointTime(dir string) (t time.Time, ok bool) {
	st, err := os.Stat(filepath.Join(dir, DoneFile))
	if err != nil {
		return time.Time{}, false
	}
	return st.ModTime(), true
}

// PrepareResume readies an unpacked checkpoint folder for the resumed task:
// the request that ended the previous run must not end this one too.
func PrepareResume(dir string) error {
	err := os.Remove(filepath.Join(dir, RequestFile))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("preparing %s for resume: %w", dir, err)
	}
	return nil
}
