package wire

import (
	"io"
	"time"
)

// Stream is what the engine needs of a network stream. libp2p's
// network.Stream satisfies it; so does a test pipe with these methods.
type Stream interface {
	io.ReadWriteCloser
	// CloseWrite half-closes: the peer reads EOF, we can still read.
	CloseWrite() error
	// Reset aborts the stream in both directions.
	Reset() error
	SetDeadline(time.Time) error
}
