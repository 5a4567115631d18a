package peer

import (
	"context"
	"log/slog"
)

// quieter passes on only records at or above min. gossipsub logs every RPC
// at debug level, which would drown our own debug lines.
type quieter struct {
	slog.Handler
	min slog.Level
}

func (q quieter) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= q.min && q.Handler.Enabled(ctx, l)
}

func (q quieter) WithAttrs(as []slog.Attr) slog.Handler {
	return quieter{q.Handler.WithAttrs(as), q.min}
}

func (q quieter) WithGroup(name string) slog.Handler {
	return quieter{q.Handler.WithGroup(name), q.min}
}

// atLeast returns log limited to records of level min and above.
func atLeast(log *slog.Logger, min slog.Level) *slog.Logger {
	return slog.New(quieter{log.Handler(), min})
}
