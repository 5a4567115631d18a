package wire

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"
)

// Limits on what a peer accepts off the network. They bound memory use per
// message; file contents stream in chunks and are capped by the receiver.
const (
	MaxArgs        = 1024
	MaxArgBytes    = 128 << 10 // all of argv together
	MaxEnv         = 256
	MaxFiles       = 4096
	MaxNameLen     = 1024
	MaxReasonLen   = 2048
	MaxIDLen       = 128
	MaxLabels      = 64
	MaxOutputGlobs = 256
	// MaxImageBytes caps a checkpoint image: a criu dump of a guest of
	// up to 16 GiB of memory, compressed, plus its files.
	MaxImageBytes = 17 << 30
)

// ErrInvalid wraps every validation failure of a decoded message.
var ErrInvalid = errors.New("invalid message")

// Message is one protocol message. Each type knows its frame kind and checks
// its own fields.
type Message interface {
	Kind() Kind
	Validate() error
}

// ClaimRequest asks a donor for a slot for one task (home -> donor).
type ClaimRequest struct {
	JobID       string   `json:"job"`
	TaskID      string   `json:"task"`
	CPUs        int      `json:"cpus"`
	MemoryBytes uint64   `json:"mem,omitempty"`
	Labels      []string `json:"labels,omitempty"`
	OS          string   `json:"os,omitempty"`
	Arch        string   `json:"arch,omitempty"`
}

// ClaimResponse accepts with a lease or declines with a reason (donor -> home).
type ClaimResponse struct {
	Accepted    bool   `json:"ok"`
	Reason      string `json:"reason,omitempty"` // always set when declined
	ClaimID     string `json:"claim,omitempty"`
	LeaseMillis int64  `json:"lease_ms,omitempty"` // renew before this elapses
}

// FileRef names a file by content: where it goes in the task directory and
// the SHA-256 of its bytes.
type FileRef struct {
	Name   string `json:"name"` // relative slash path inside the task dir
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	Mode   uint32 `json:"mode,omitempty"` // permission bits; 0 means 0644
}

// TaskSpec starts a task on a claimed slot (home -> donor).
type TaskSpec struct {
	ClaimID     string            `json:"claim"`
	JobID       string            `json:"job"`
	TaskID      string            `json:"task"`
	Argv        []string          `json:"argv"`
	Env         map[string]string `json:"env,omitempty"`
	Inputs      []FileRef         `json:"inputs,omitempty"`
	Outputs     []string          `json:"outputs,omitempty"` // globs relative to the task dir
	CPUs        int               `json:"cpus,omitempty"`
	MemoryBytes uint64            `json:"mem,omitempty"`
	TimeoutMs   int64             `json:"timeout_ms,omitempty"`
	// Checkpoint is the backend the task may be checkpointed with
	// ("criu" or "signal"; "" for none), CheckpointEveryMs how often
	// (0: only when the owner returns).
	Checkpoint        string `json:"checkpoint,omitempty"`
	CheckpointEveryMs int64  `json:"checkpoint_every_ms,omitempty"`
	// Resume, when set, starts the task from a checkpoint image instead
	// of from scratch. The image travels like an input: the donor lists
	// its SHA-256 in Need when it lacks it.
	Resume *Resume `json:"resume,omitempty"`
}

// Resume names the checkpoint image a task resumes from.
type Resume struct {
	Backend string `json:"backend"` // "criu" or "signal"
	ID      string `json:"id"`      // the image's manifest ID
	SHA256  string `json:"sha256"`  // of the image file
	Size    int64  `json:"size"`
}

// Checkpoint announces a checkpoint image of the running task (donor ->
// home); its bytes follow as Chunk frames summing to Size, which may be
// interleaved with Output and GuestState frames. Final images are taken
// as the guest leaves: an Exit with Preempted follows, and the home
// resumes the task from the image elsewhere.
type Checkpoint struct {
	Backend string `json:"backend"`
	ID      string `json:"id"`     // the image's manifest ID
	SHA256  string `json:"sha256"` // of the image file
	Size    int64  `json:"size"`
	Final   bool   `json:"final,omitempty"`
	UnixMs  int64  `json:"at"` // when the state was captured
}

// Checkpoint backends a task may ask for.
const (
	BackendCRIU   = "criu"
	BackendSignal = "signal"
)

// Need lists the inputs (by SHA-256) the donor lacks and wants sent (donor -> home).
type Need struct {
	SHA256 []string `json:"sha256"`
}

// FileHeader announces a file's bytes, which follow as Chunk frames summing
// to Size (either direction: inputs home -> donor, outputs donor -> home).
type FileHeader struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	Mode   uint32 `json:"mode,omitempty"`
}

// Chunk is a piece of a file's bytes. Its payload is raw, not JSON.
type Chunk struct{ Data []byte }

// Output is live stdout or stderr of the task (donor -> home). Raw payload.
type Output struct {
	Stderr bool
	Data   []byte
}

// Started says the task's process is running (donor -> home).
type Started struct {
	HostPeer string `json:"host"`
	Pid      int    `json:"pid,omitempty"`
	UnixMs   int64  `json:"at"`
}

// Renew extends the claim's lease (home -> donor).
type Renew struct{}

// Cancel asks the donor to stop the task (home -> donor).
type Cancel struct {
	Reason string `json:"reason,omitempty"`
}

// Exit reports how the task ended (donor -> home). Output files follow as
// FileHeader+Chunk frames, then Done.
type Exit struct {
	Code      int    `json:"code"`
	Signal    string `json:"signal,omitempty"`
	Preempted bool   `json:"preempted,omitempty"` // stopped for the owner: not a failure, re-run elsewhere
	Reason    string `json:"reason,omitempty"`
	Error     string `json:"error,omitempty"` // the task could not run at all
	UnixMs    int64  `json:"at"`
	CPUMs     int64  `json:"cpu_ms,omitempty"` // user+system CPU time of the task
	// ResumeFailed says why the task's checkpoint image could not be
	// resumed here (corrupt, truncated, criu refused it): the home starts
	// the task over instead of sending the image again.
	ResumeFailed string `json:"resume_failed,omitempty"`
}

// GuestState says what the donor's owner policy did to the running task
// (donor -> home): it goes on at full speed, yields (shared), or is frozen
// until the owner leaves again (suspended). The task is still running in
// every case: only Exit ends it.
type GuestState struct {
	State  string `json:"state"` // one of GuestRunning, GuestShared, GuestSuspended
	Reason string `json:"reason,omitempty"`
}

// Guest states.
const (
	GuestRunning   = "running"
	GuestShared    = "shared"
	GuestSuspended = "suspended"
)

// Done ends the task stream (donor -> home).
type Done struct{}

// Error is a protocol-level failure; the sender closes the stream after it.
type Error struct {
	Message string `json:"message"`
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)
var hexSHA256 = regexp.MustCompile(`^[0-9a-f]{64}$`)

func checkID(field, v string) error {
	if !idPattern.MatchString(v) {
		return fmt.Errorf("%s %q: want 1-%d of [A-Za-z0-9._-]", field, clip(v), MaxIDLen)
	}
	return nil
}

// CheckRelPath rejects names that could escape the task directory.
func CheckRelPath(name string) error {
	switch {
	case name == "" || len(name) > MaxNameLen:
		return fmt.Errorf("file name length %d out of range", len(name))
	case strings.ContainsRune(name, 0) || strings.Contains(name, `\`):
		return fmt.Errorf("file name %q has a forbidden character", clip(name))
	case path.IsAbs(name) || path.Clean(name) != name || name == "." || name == ".." || strings.HasPrefix(name, "../"):
		return fmt.Errorf("file name %q must be a clean relative path", clip(name))
	}
	return nil
}

func checkSHA(v string) error {
	if !hexSHA256.MatchString(v) {
		return fmt.Errorf("sha256 %q is not 64 lowercase hex digits", clip(v))
	}
	return nil
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

func invalid(m Message, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: %s: %w", ErrInvalid, m.Kind(), err)
}

// Validate implements Message.
func (m *ClaimRequest) Validate() error {
	return invalid(m, errors.Join(checkID("job", m.JobID), checkID("task", m.TaskID),
		rangeErr("cpus", m.CPUs, 0, 1<<16), countErr("labels", len(m.Labels), MaxLabels)))
}

// Validate implements Message.
func (m *ClaimResponse) Validate() error {
	var err error
	if m.Accepted {
		err = errors.Join(checkID("claim", m.ClaimID), rangeErr("lease_ms", int(min(m.LeaseMillis, 1<<40)), 1, 24*3600*1000))
	} else if m.Reason == "" {
		err = errors.New("a decline must carry a reason")
	}
	return invalid(m, errors.Join(err, lenErr("reason", m.Reason, MaxReasonLen)))
}

// Validate implements Message.
func (m *TaskSpec) Validate() error {
	errs := []error{checkID("claim", m.ClaimID), checkID("job", m.JobID), checkID("task", m.TaskID)}
	if len(m.Argv) == 0 || m.Argv[0] == "" {
		errs = append(errs, errors.New("argv is empty"))
	}
	total := 0
	for _, a := range m.Argv {
		total += len(a)
		if strings.ContainsRune(a, 0) {
			errs = append(errs, errors.New("argv has a NUL byte"))
			break
		}
	}
	errs = append(errs, countErr("argv", len(m.Argv), MaxArgs), rangeErr("argv bytes", total, 0, MaxArgBytes),
		countErr("env", len(m.Env), MaxEnv), countErr("inputs", len(m.Inputs), MaxFiles),
		countErr("outputs", len(m.Outputs), MaxOutputGlobs), rangeErr("cpus", m.CPUs, 0, 1<<16))
	for k, v := range m.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.ContainsRune(v, 0) || len(k)+len(v) > 32<<10 {
			errs = append(errs, fmt.Errorf("env %q is malformed", clip(k)))
		}
	}
	for _, f := range m.Inputs {
		if err := (&FileHeader{Name: f.Name, SHA256: f.SHA256, Size: f.Size}).check(); err != nil {
			errs = append(errs, fmt.Errorf("input: %w", err))
		}
	}
	for _, g := range m.Outputs {
		if err := CheckRelPath(g); err != nil {
			errs = append(errs, fmt.Errorf("output glob: %w", err))
		} else if _, err := path.Match(g, ""); err != nil {
			errs = append(errs, fmt.Errorf("output glob %q: %w", clip(g), err))
		}
	}
	if m.TimeoutMs < 0 {
		errs = append(errs, errors.New("timeout is negative"))
	}
	switch m.Checkpoint {
	case "", BackendCRIU, BackendSignal:
	default:
		errs = append(errs, fmt.Errorf("checkpoint %q: want %s, %s or nothing", clip(m.Checkpoint), BackendCRIU, BackendSignal))
	}
	if m.CheckpointEveryMs < 0 {
		errs = append(errs, errors.New("checkpoint_every is negative"))
	}
	if r := m.Resume; r != nil {
		if r.Backend != m.Checkpoint || r.Backend == "" {
			errs = append(errs, fmt.Errorf("resume: backend %q is not the task's checkpoint backend %q", clip(r.Backend), clip(m.Checkpoint)))
		}
		errs = append(errs, imageErr("resume", r.ID, r.SHA256, r.Size))
	}
	return invalid(m, errors.Join(errs...))
}

// imageErr checks the fields naming a checkpoint image.
func imageErr(what, id, sha string, size int64) error {
	var errs []error
	if err := checkSHA(id); err != nil {
		errs = append(errs, fmt.Errorf("%s: image id: %w", what, err))
	}
	if err := checkSHA(sha); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", what, err))
	}
	if size <= 0 || size > MaxImageBytes {
		errs = append(errs, fmt.Errorf("%s: image size %d out of range [1, %d]", what, size, int64(MaxImageBytes)))
	}
	return errors.Join(errs...)
}

// Validate implements Message.
func (m *Checkpoint) Validate() error {
	var err error
	if m.Backend != BackendCRIU && m.Backend != BackendSignal {
		err = fmt.Errorf("backend %q: want %s or %s", clip(m.Backend), BackendCRIU, BackendSignal)
	}
	return invalid(m, errors.Join(err, imageErr("image", m.ID, m.SHA256, m.Size)))
}

// Validate implements Message.
func (m *Need) Validate() error {
	errs := []error{countErr("sha256", len(m.SHA256), MaxFiles)}
	for _, s := range m.SHA256 {
		errs = append(errs, checkSHA(s))
	}
	return invalid(m, errors.Join(errs...))
}

func (m *FileHeader) check() error {
	err := errors.Join(CheckRelPath(m.Name), checkSHA(m.SHA256))
	if m.Size < 0 {
		err = errors.Join(err, errors.New("size is negative"))
	}
	return err
}

// Validate implements Message.
func (m *FileHeader) Validate() error { return invalid(m, m.check()) }

// Validate implements Message.
func (m *Chunk) Validate() error { return nil }

// Validate implements Message.
func (m *Output) Validate() error { return nil }

// Validate implements Message.
func (m *Started) Validate() error { return invalid(m, lenErr("host", m.HostPeer, MaxIDLen)) }

// Validate implements Message.
func (m *Renew) Validate() error { return nil }

// Validate implements Message.
func (m *Cancel) Validate() error { return invalid(m, lenErr("reason", m.Reason, MaxReasonLen)) }

// Validate implements Message.
func (m *Exit) Validate() error {
	return invalid(m, errors.Join(lenErr("reason", m.Reason, MaxReasonLen), lenErr("error", m.Error, MaxReasonLen),
		lenErr("signal", m.Signal, 32), lenErr("resume_failed", m.ResumeFailed, MaxReasonLen)))
}

// Validate implements Message.
func (m *Done) Validate() error { return nil }

// Validate implements Message.
func (m *GuestState) Validate() error {
	var err error
	switch m.State {
	case GuestRunning, GuestShared, GuestSuspended:
	default:
		err = fmt.Errorf("state %q: want %s, %s or %s", clip(m.State), GuestRunning, GuestShared, GuestSuspended)
	}
	return invalid(m, errors.Join(err, lenErr("reason", m.Reason, MaxReasonLen)))
}

func (m *Error) Validate() error { return invalid(m, lenErr("message", m.Message, MaxReasonLen)) }

func rangeErr(field string, v, lo, hi int) error {
	if v < lo || v > hi {
		return fmt.Errorf("%s %d out of range [%d, %d]", field, v, lo, hi)
	}
	return nil
}

func countErr(field string, n, max int) error {
	if n > max {
		return fmt.Errorf("%d %s, at most %d", n, field, max)
	}
	return nil
}

// lenErr checks a text field: at most max bytes of printable UTF-8. Text
// from peers ends up on terminals: a control character in it could move
// the cursor, rewrite what is shown or worse.
func lenErr(field, v string, max int) error {
	if len(v) > max {
		return fmt.Errorf("%s is %d bytes, at most %d", field, len(v), max)
	}
	if !Printable(v) {
		return fmt.Errorf("%s %q has control characters or is not UTF-8", field, clip(v))
	}
	return nil
}
