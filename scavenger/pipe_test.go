package scavenger

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"github.com/scavenge/scavenge/peer/wire"
)

func TestPipeHalfClose(t *testing.T) {
	a, b := pipeStreams()
	// A write larger than the buffer completes while the reader reads.
	big := bytes.Repeat([]byte("x"), 3*pipeCapacity+5)
	errc := make(chan error, 1)
	go func() {
		_, err := a.Write(big)
		errc <- errors.Join(err, a.CloseWrite())
	}()
	got, err := io.ReadAll(b)
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("read %d bytes, %v; want %d bytes", len(got), err, len(big))
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	// After a half-close the other direction still works.
	if _, err := b.Write([]byte("reply")); err != nil {
		t.Fatal(err)
	}
	b.CloseWrite()
	if got, err := io.ReadAll(a); string(got) != "reply" || err != nil {
		t.Errorf("reply = %q, %v", got, err)
	}
	if _, err := a.Write([]byte("more")); err == nil {
		t.Error("write after CloseWrite succeeded")
	}
}

func TestPipeResetAndClose(t *testing.T) {
	for _, tc := range []struct {
		name      string
		end       func(s wire.Stream) error
		wantRead  error // what the other end's Read returns
		writeFail bool  // whether the other end's Write fails
	}{
		{"reset", wire.Stream.Reset, errPipeReset, true},
		{"close", wire.Stream.Close, io.EOF, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := pipeStreams()
			readErr := make(chan error, 1)
			go func() {
				_, err := b.Read(make([]byte, 1)) // blocked when a ends
				readErr <- err
			}()
			time.Sleep(time.Millisecond) // let the reader block (not required for correctness)
			if err := tc.end(a); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-readErr:
				if !errors.Is(err, tc.wantRead) {
					t.Errorf("blocked read = %v, want %v", err, tc.wantRead)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("a blocked read did not return")
			}
			if _, err := b.Write([]byte("x")); (err != nil) != tc.writeFail {
				t.Errorf("write to an ended stream = %v, want failure %v", err, tc.writeFail)
			}
		})
	}
}

func TestPipeDeadline(t *testing.T) {
	a, b := pipeStreams()
	readErr := make(chan error, 1)
	go func() {
		_, err := a.Read(make([]byte, 1))
		readErr <- err
	}()
	// A deadline set while a read is blocked bounds that read.
	a.SetDeadline(time.Now().Add(20 * time.Millisecond))
	select {
	case err := <-readErr:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("read = %v, want deadline exceeded", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the deadline did not end a blocked read")
	}
	// Clearing it makes the stream usable again.
	a.SetDeadline(time.Time{})
	b.Write([]byte("y"))
	buf := make([]byte, 1)
	if n, err := a.Read(buf); n != 1 || err != nil {
		t.Errorf("read after clearing the deadline = %d, %v", n, err)
	}
	// A past deadline fails at once; a filled buffer bounds a write.
	b.SetDeadline(time.Now().Add(-time.Second))
	if _, err := b.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("read past the deadline = %v", err)
	}
	b.SetDeadline(time.Now().Add(20 * time.Millisecond))
	if n, err := b.Write(make([]byte, pipeCapacity+1)); !errors.Is(err, os.ErrDeadlineExceeded) || n != pipeCapacity {
		t.Errorf("write into a full pipe = %d, %v; want %d, deadline exceeded", n, err, pipeCapacity)
	}
}

func TestPipeCarriesFrames(t *testing.T) {
	a, b := pipeStreams()
	ca, cb := wire.NewConn(a), wire.NewConn(b)
	go func() {
		ca.Send(&wire.Started{HostPeer: "x", Pid: 7})
		ca.Send(&wire.Output{Data: bytes.Repeat([]byte("o"), wire.ChunkSize)})
		a.CloseWrite()
	}()
	st, err := wire.Expect[*wire.Started](cb)
	if err != nil || st.Pid != 7 {
		t.Fatalf("started = %+v, %v", st, err)
	}
	out, err := wire.Expect[*wire.Output](cb)
	if err != nil || len(out.Data) != wire.ChunkSize {
		t.Fatalf("output = %d bytes, %v", len(out.Data), err)
	}
	if _, err := cb.Recv(); !errors.Is(err, io.EOF) {
		t.Errorf("after CloseWrite Recv = %v, want EOF", err)
	}
}
