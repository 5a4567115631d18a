//go:build unix

package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scavenge/scavenge/config"
)

// journalFile is a file standing for the journal's stream, with
// JOURNAL_STREAM naming it as systemd would.
func journalFile(t *testing.T) *os.File {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "journal"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	dev, ino, ok := fileDevIno(f)
	if !ok {
		t.Fatal("no device and inode for a file")
	}
	t.Setenv(journalStreamEnv, fmt.Sprintf("%d:%d", dev, ino))
	return f
}

func TestNewLoggerJournal(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			f := journalFile(t)
			log, err := newLogger(f, config.Log{Level: "debug", Format: format})
			if err != nil {
				t.Fatal(err)
			}
			log = log.With("component", "test")
			log.Debug("d")
			log.Info("i", "k", "v")
			log.Warn("w")
			log.Error("e\nsecond line")
			data, err := os.ReadFile(f.Name())
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
			want := []string{"<7>", "<6>", "<4>", "<3>"}
			if len(lines) != len(want) {
				t.Fatalf("got %d lines, want %d (a message's newline must not split a record):\n%s", len(lines), len(want), data)
			}
			for i, l := range lines {
				if !strings.HasPrefix(l, want[i]) {
					t.Errorf("line %d: got %q, want it to start with %s", i, l, want[i])
				}
				if strings.Contains(l, "time") {
					t.Errorf("line %d: %q has a time; journald adds its own", i, l)
				}
				if !strings.Contains(l, "component") {
					t.Errorf("line %d: %q lost the logger's attributes", i, l)
				}
			}
		})
	}
}

// TestNewLoggerNotJournal: JOURNAL_STREAM is inherited by children whose
// stderr is elsewhere; their log keeps its time and no prefix.
func TestNewLoggerNotJournal(t *testing.T) {
	journalFile(t)
	other, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	log, err := newLogger(other, config.Log{Level: "info", Format: "text"})
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hello")
	data, _ := os.ReadFile(other.Name())
	if !strings.HasPrefix(string(data), "time=") {
		t.Errorf("got %q, want a plain text record with its time", data)
	}
}

// fakeJournalctl puts a journalctl in PATH that prints its arguments.
func fakeJournalctl(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	script := "#!/bin/sh\necho \"journalctl $*\"\n"
	if err := os.WriteFile(filepath.Join(dir, "journalctl"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
}

func TestDaemonLogs(t *testing.T) {
	unit := filepath.Join(t.TempDir(), "scavenge.service")
	if err := os.WriteFile(unit, []byte("[Unit]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fakeJournalctl(t)
	d := daemonLogs{unitPath: unit, journalctl: "journalctl"}
	for _, tc := range []struct {
		follow bool
		lines  int
		want   string
	}{
		{false, 0, "journalctl -u scavenge.service --no-pager\n"},
		{true, 20, "journalctl -u scavenge.service --no-pager -f -n 20\n"},
	} {
		var out bytes.Buffer
		e := &env{stdout: &out, stderr: &out, getenv: os.Getenv}
		if err := d.run(context.Background(), e, tc.follow, tc.lines); err != nil {
			t.Fatal(err)
		}
		if out.String() != tc.want {
			t.Errorf("follow=%v n=%d: got %q, want %q", tc.follow, tc.lines, out.String(), tc.want)
		}
	}

	e := &env{stdout: new(bytes.Buffer), stderr: new(bytes.Buffer), getenv: os.Getenv}
	err := daemonLogs{unitPath: unit + ".missing", journalctl: "journalctl"}.run(context.Background(), e, false, 0)
	if !errors.Is(err, errNoDaemonLog) || !strings.Contains(err.Error(), "stderr of whoever started it") {
		t.Errorf("no unit: got %v, want it to say where the log is", err)
	}
	err = daemonLogs{unitPath: unit, journalctl: "no-such-journalctl"}.run(context.Background(), e, false, 0)
	if !errors.Is(err, errNoDaemonLog) || !strings.Contains(err.Error(), "not installed") {
		t.Errorf("no journalctl: got %v, want it to say journalctl is missing", err)
	}
}

// TestLogsDaemonFlags: --daemon takes no job.
func TestLogsDaemonFlags(t *testing.T) {
	var out bytes.Buffer
	e := &env{stdout: &out, stderr: &out, getenv: os.Getenv}
	if code := run(context.Background(), e, []string{"logs", "--daemon", "job1"}); code != exitUsage || !strings.Contains(out.String(), "--daemon takes only") {
		t.Errorf("logs --daemon job1: exit %d, %q; want a usage error", code, out.String())
	}
}
