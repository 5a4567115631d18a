package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

const sha = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

func validMessages() []Message {
	return []Message{
		&ClaimRequest{JobID: "j1", TaskID: "0", CPUs: 2, MemoryBytes: 1 << 30, Labels: []string{"gpu"}, OS: "linux", Arch: "amd64"},
		&ClaimResponse{Accepted: true, ClaimID: "c1", LeaseMillis: 30000},
		&ClaimResponse{Reason: "paused: lunch"},
		&TaskSpec{ClaimID: "c1", JobID: "j1", TaskID: "0", Argv: []string{"sh", "-c", "echo hi"},
			Env: map[string]string{"A": "b"}, Inputs: []FileRef{{Name: "in/data.txt", SHA256: sha, Size: 0, Mode: 0o644}},
			Outputs: []string{"out/*.txt"}, CPUs: 1, TimeoutMs: 1000},
		&Need{SHA256: []string{sha}},
		&FileHeader{Name: "a.txt", SHA256: sha, Size: 12},
		&Chunk{Data: []byte("hello world\x00\xff")},
		&Output{Data: []byte("out")},
		&Output{Stderr: true, Data: []byte("err")},
		&Started{HostPeer: "12D3KooW", Pid: 42, UnixMs: 1},
		&Renew{},
		&Cancel{Reason: "user pressed ctrl-c"},
		&Exit{Code: 3, UnixMs: 5, CPUMs: 7},
		&Exit{Code: -1, Signal: "killed", Preempted: true, Reason: "owner returned"},
		&Done{},
		&Error{Message: "claim expired"},
		&GuestState{State: GuestSuspended, Reason: "owner returned"},
		&Checkpoint{Backend: BackendCRIU, ID: sha, SHA256: sha, Size: 1 << 20, Final: true, UnixMs: 9},
		&TaskSpec{ClaimID: "c2", JobID: "j1", TaskID: "1", Argv: []string{"./count"}, Checkpoint: BackendSignal,
			CheckpointEveryMs: 60000, Resume: &Resume{Backend: BackendSignal, ID: sha, SHA256: sha, Size: 300}},
		&Exit{Code: -1, Preempted: true, ResumeFailed: "corrupt checkpoint image"},
	}
}

func TestRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	c := NewConn(&buf)
	msgs := validMessages()
	for _, m := range msgs {
		if err := c.Send(m); err != nil {
			t.Fatalf("Send(%s): %v", m.Kind(), err)
		}
	}
	for _, want := range msgs {
		got, err := c.Recv()
		if err != nil {
			t.Fatalf("Recv want %s: %v", want.Kind(), err)
		}
		// Raw payloads alias the read buffer; compare before the next Recv.
		if !reflect.DeepEqual(got, want) {
			t.Errorf("round trip %s: got %#v, want %#v", want.Kind(), got, want)
		}
	}
	if _, err := c.Recv(); err != io.EOF {
		t.Errorf("after last frame: got %v, want io.EOF", err)
	}
}

func frame(body []byte) []byte {
	var hdr [binary.MaxVarintLen64]byte
	n := binary.PutUvarint(hdr[:], uint64(len(body)))
	return append(hdr[:n], body...)
}

func TestRecvRejects(t *testing.T) {
	huge := make([]byte, binary.MaxVarintLen64)
	huge = huge[:binary.PutUvarint(huge, MaxFrame+1)]
	bigJSON := append([]byte{byte(KindCancel)}, []byte(`{"reason":"`+strings.Repeat("x", MaxJSONFrame)+`"}`)...)
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"oversized length", huge, ErrFrameTooLarge},
		{"oversized json", frame(bigJSON), ErrFrameTooLarge},
		{"unknown kind", frame([]byte{99, '{', '}'}), ErrUnknownKind},
		{"kind zero", frame([]byte{0}), ErrUnknownKind},
		{"empty frame", frame(nil), ErrInvalid},
		{"garbled json", frame(append([]byte{byte(KindExit)}, "{not json"...)), ErrInvalid},
		{"unknown field", frame(append([]byte{byte(KindExit)}, `{"code":1,"evil":true}`...)), ErrInvalid},
		{"trailing data", frame(append([]byte{byte(KindRenew)}, `{} {}`...)), ErrInvalid},
		{"bad output stream", frame([]byte{byte(KindOutput), 7, 'x'}), ErrInvalid},
		{"path escape", frame(append([]byte{byte(KindFileHeader)}, `{"name":"../etc/passwd","sha256":"`+sha+`","size":1}`...)), ErrInvalid},
		{"absolute path", frame(append([]byte{byte(KindFileHeader)}, `{"name":"/etc/passwd","sha256":"`+sha+`","size":1}`...)), ErrInvalid},
		{"bad sha", frame(append([]byte{byte(KindNeed)}, `{"sha256":["abc"]}`...)), ErrInvalid},
		{"empty argv", frame(append([]byte{byte(KindTaskSpec)}, `{"claim":"c","job":"j","task":"t","argv":[]}`...)), ErrInvalid},
		{"bad id", frame(append([]byte{byte(KindClaimRequest)}, `{"job":"a b","task":"0","cpus":1}`...)), ErrInvalid},
		{"decline without reason", frame(append([]byte{byte(KindClaimResponse)}, `{"ok":false}`...)), ErrInvalid},
		{"truncated body", frame([]byte{byte(KindExit), '{'})[:3], io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewConn(bytes.NewBuffer(tt.in)).Recv()
			if !errors.Is(err, tt.want) {
				t.Errorf("Recv: got error %v, want %v", err, tt.want)
			}
		})
	}
}

func TestSendRejectsOversized(t *testing.T) {
	err := NewConn(struct {
		io.Reader
		io.Writer
	}{strings.NewReader(""), io.Discard}).Send(&Chunk{Data: make([]byte, MaxFrame)})
	if !errors.Is(err, ErrFrameTooLarge) {
		t.Errorf("Send of an oversized chunk: got %v, want ErrFrameTooLarge", err)
	}
}

func TestExpect(t *testing.T) {
	var buf bytes.Buffer
	c := NewConn(&buf)
	for _, m := range []Message{&Renew{}, &Error{Message: "no such claim"}, &Done{}} {
		if err := c.Send(m); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Expect[*Renew](c); err != nil {
		t.Errorf("Expect[*Renew] on a renew: %v", err)
	}
	if _, err := Expect[*Exit](c); err == nil || !strings.Contains(err.Error(), "no such claim") {
		t.Errorf("Expect on an Error frame: got %v, want the peer's message", err)
	}
	if _, err := Expect[*Exit](c); !errors.Is(err, ErrInvalid) {
		t.Errorf("Expect[*Exit] on done: got %v, want ErrInvalid", err)
	}
}

func TestCheckRelPath(t *testing.T) {
	for _, tt := range []struct {
		name string
		ok   bool
	}{
		{"a.txt", true}, {"out/b.bin", true}, {"", false}, {".", false}, {"..", false},
		{"../x", false}, {"/abs", false}, {"a//b", false}, {"a/../b", false}, {`a\b`, false}, {"a\x00b", false},
	} {
		if err := CheckRelPath(tt.name); (err == nil) != tt.ok {
			t.Errorf("CheckRelPath(%q) = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}

// FuzzDecode feeds arbitrary frames to the decoder: it must never panic, and
// whatever it accepts must be valid and re-encode to a frame it accepts again.
func FuzzDecode(f *testing.F) {
	for _, m := range validMessages() {
		body, err := Encode(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(body)
	}
	f.Add([]byte{byte(KindTaskSpec), '{', '}'})
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := Decode(body)
		if err != nil {
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("Decode accepted an invalid %s: %v", m.Kind(), err)
		}
		again, err := Encode(m)
		if err != nil {
			t.Fatalf("re-encode %s: %v", m.Kind(), err)
		}
		if _, err := Decode(again); err != nil {
			t.Fatalf("decode of re-encoded %s: %v", m.Kind(), err)
		}
	})
}

// FuzzRecv feeds an arbitrary byte stream to Conn.Recv until it fails.
func FuzzRecv(f *testing.F) {
	var buf bytes.Buffer
	c := NewConn(&buf)
	for _, m := range validMessages() {
		_ = c.Send(m)
	}
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, stream []byte) {
		c := NewConn(bytes.NewBuffer(stream))
		for i := 0; i < 1000; i++ {
			if _, err := c.Recv(); err != nil {
				return
			}
		}
	})
}
