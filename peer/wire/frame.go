package wire

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
)

// Kind is the first byte of a frame's body: which message follows.
type Kind byte

// Frame kinds. Never reuse a number: add new ones at the end.
const (
	KindClaimRequest Kind = iota + 1
	KindClaimResponse
	KindTaskSpec
	KindNeed
	KindFileHeader
	KindChunk
	KindOutput
	KindStarted
	KindRenew
	KindCancel
	KindExit
	KindDone
	KindError
	KindGuestState
	KindCheckpoint
	kindEnd
)

var kindNames = [...]string{"", "claim-request", "claim-response", "task-spec", "need", "file-header",
	"chunk", "output", "started", "renew", "cancel", "exit", "done", "error", "guest-state", "checkpoint"}

func (k Kind) String() string {
	if k > 0 && k < kindEnd {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", byte(k))
}

// Size caps. A frame is a uvarint length, then that many bytes: one kind byte
// and the payload. JSON messages are small; chunks carry file and output data.
const (
	MaxFrame     = 1 << 20   // any frame
	MaxJSONFrame = 256 << 10 // a JSON-encoded message (a TaskSpec with many inputs is the largest)
	ChunkSize    = 256 << 10 // what senders put in one Chunk or Output
)

// Errors of the framing layer.
var (
	ErrFrameTooLarge = errors.New("frame too large")
	ErrUnknownKind   = errors.New("unknown message kind")
)

// Kind implements Message.
func (*ClaimRequest) Kind() Kind { return KindClaimRequest }

// Kind implements Message.
func (*ClaimResponse) Kind() Kind { return KindClaimResponse }

// Kind implements Message.
func (*TaskSpec) Kind() Kind { return KindTaskSpec }

// Kind implements Message.
func (*Need) Kind() Kind { return KindNeed }

// Kind implements Message.
func (*FileHeader) Kind() Kind { return KindFileHeader }

// Kind implements Message.
func (*Chunk) Kind() Kind { return KindChunk }

// Kind implements Message.
func (*Output) Kind() Kind { return KindOutput }

// Kind implements Message.
func (*Started) Kind() Kind { return KindStarted }

// Kind implements Message.
func (*Renew) Kind() Kind { return KindRenew }

// Kind implements Message.
func (*Cancel) Kind() Kind { return KindCancel }

// Kind implements Message.
func (*Exit) Kind() Kind { return KindExit }

// Kind implements Message.
func (*Done) Kind() Kind { return KindDone }

// Kind implements Message.
func (*Error) Kind() Kind { return KindError }

// Kind implements Message.
func (*GuestState) Kind() Kind { return KindGuestState }

// Kind implements Message.
func (*Checkpoint) Kind() Kind { return KindCheckpoint }

func newMessage(k Kind) (Message, error) {
	switch k {
	case KindClaimRequest:
		return &ClaimRequest{}, nil
	case KindClaimResponse:
		return &ClaimResponse{}, nil
	case KindTaskSpec:
		return &TaskSpec{}, nil
	case KindNeed:
		return &Need{}, nil
	case KindFileHeader:
		return &FileHeader{}, nil
	case KindChunk:
		return &Chunk{}, nil
	case KindOutput:
		return &Output{}, nil
	case KindStarted:
		return &Started{}, nil
	case KindRenew:
		return &Renew{}, nil
	case KindCancel:
		return &Cancel{}, nil
	case KindExit:
		return &Exit{}, nil
	case KindDone:
		return &Done{}, nil
	case KindError:
		return &Error{}, nil
	case KindGuestState:
		return &GuestState{}, nil
	case KindCheckpoint:
		return &Checkpoint{}, nil
	}
	return nil, fmt.Errorf("%w %d", ErrUnknownKind, byte(k))
}

// Encode returns the body of a frame for m (kind byte and payload).
func Encode(m Message) ([]byte, error) {
	var body []byte
	switch m := m.(type) {
	case *Chunk:
		body = append([]byte{byte(KindChunk)}, m.Data...)
	case *Output:
		stream := byte(1)
		if m.Stderr {
			stream = 2
		}
		body = append([]byte{byte(KindOutput), stream}, m.Data...)
	default:
		js, err := json.Marshal(m)
		if err != nil {
			return nil, err
		}
		if len(js)+1 > MaxJSONFrame {
			return nil, fmt.Errorf("%w: %s is %d bytes, cap %d", ErrFrameTooLarge, m.Kind(), len(js), MaxJSONFrame)
		}
		body = append([]byte{byte(m.Kind())}, js...)
	}
	if len(body) > MaxFrame {
		return nil, fmt.Errorf("%w: %s is %d bytes, cap %d", ErrFrameTooLarge, m.Kind(), len(body), MaxFrame)
	}
	return body, nil
}

// Decode parses a frame body and validates the message. Raw payloads (Chunk,
// Output) alias body.
func Decode(body []byte) (Message, error) {
	if len(body) == 0 {
		return nil, fmt.Errorf("%w: empty frame", ErrInvalid)
	}
	k := Kind(body[0])
	m, err := newMessage(k)
	if err != nil {
		return nil, err
	}
	payload := body[1:]
	switch m := m.(type) {
	case *Chunk:
		m.Data = payload
	case *Output:
		if len(payload) == 0 || payload[0] < 1 || payload[0] > 2 {
			return nil, fmt.Errorf("%w: output: bad stream byte", ErrInvalid)
		}
		m.Stderr, m.Data = payload[0] == 2, payload[1:]
	default:
		if len(body) > MaxJSONFrame {
			return nil, fmt.Errorf("%w: %s is %d bytes, cap %d", ErrFrameTooLarge, k, len(body), MaxJSONFrame)
		}
		if err := decodeStrict(payload, m); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrInvalid, k, err)
		}
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return m, nil
}

func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after JSON value")
	}
	return nil
}

// Conn reads and writes framed messages on a stream. Send is safe for
// concurrent use (a donor streams output while answering renewals); Recv is
// not and belongs to one reader goroutine.
type Conn struct {
	r   *bufio.Reader
	w   io.Writer
	mu  sync.Mutex
	buf []byte
}

// NewConn wraps rw (typically a libp2p stream).
func NewConn(rw io.ReadWriter) *Conn {
	return &Conn{r: bufio.NewReaderSize(rw, 64<<10), w: rw}
}

// Send writes one framed message.
func (c *Conn) Send(m Message) error {
	body, err := Encode(m)
	if err != nil {
		return err
	}
	var hdr [binary.MaxVarintLen64]byte
	n := binary.PutUvarint(hdr[:], uint64(len(body)))
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.w.Write(append(hdr[:n:n], body...)); err != nil {
		return fmt.Errorf("send %s: %w", m.Kind(), err)
	}
	return nil
}

// Recv reads one message. The returned Chunk or Output data is valid only
// until the next Recv.
func (c *Conn) Recv() (Message, error) {
	n, err := binary.ReadUvarint(c.r)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("read frame length: %w", err)
	}
	if n > MaxFrame {
		return nil, fmt.Errorf("%w: %d bytes, cap %d", ErrFrameTooLarge, n, MaxFrame)
	}
	if uint64(cap(c.buf)) < n {
		c.buf = make([]byte, n)
	}
	c.buf = c.buf[:n]
	if _, err := io.ReadFull(c.r, c.buf); err != nil {
		return nil, fmt.Errorf("read frame: %w", io.ErrUnexpectedEOF)
	}
	return Decode(c.buf)
}

// Expect reads one message and requires it to be of type T; an Error message
// from the peer becomes a Go error.
func Expect[T Message](c *Conn) (T, error) {
	var zero T
	m, err := c.Recv()
	if err != nil {
		return zero, err
	}
	if t, ok := m.(T); ok {
		return t, nil
	}
	if e, ok := m.(*Error); ok {
		return zero, fmt.Errorf("peer error: %s", e.Message)
	}
	return zero, fmt.Errorf("%w: got %s, want %s", ErrInvalid, m.Kind(), zero.Kind())
}
