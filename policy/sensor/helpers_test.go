package sensor

import (
	"log/slog"
	"testing"
	"time"
)

// testLogger logs to the test, so a failure shows what the sensor saw.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// waitFor checks cond every interval, the first time after one interval,
// until it reports true or the deadline passes; the last status it returned
// explains a failure. Waiting first gives measurements over an interval a
// whole interval to build up.
func waitFor(t *testing.T, timeout, every time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		time.Sleep(every)
		ok, status := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %v: %s", timeout, status)
		}
	}
}
