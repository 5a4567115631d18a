package client_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/scavenge/scavenge/scavenger"
	"github.com/scavenge/scavenge/scavenger/client"
)

// Logs serves b.logs, and b.live to a follower.
func (b *backend) Logs(ctx context.Context, req scavenger.LogRequest) (io.ReadCloser, error) {
	if req.JobID != "j1" {
		return nil, fmt.Errorf("job %q: %w", req.JobID, scavenger.ErrNotFound)
	}
	if req.Follow && b.live != nil {
		return b.live, nil
	}
	text, ok := b.logs[req.JobID+"/"+req.TaskID+"/"+req.Stream]
	if !ok {
		return nil, &scavenger.NoTaskError{Job: req.JobID, Task: req.TaskID, Tasks: []string{"0"}}
	}
	return io.NopCloser(strings.NewReader(text[min(int(req.Offset), len(text)):])), nil
}

func TestLogs(t *testing.T) {
	home := serve(t, &backend{logs: map[string]string{"j1/0/stdout": "one\ntwo\n", "j1/0/stderr": "oops\n"}})
	c := client.New(home)
	tests := []struct {
		req      scavenger.LogRequest
		want     string
		wantErr  string
		notFound bool
	}{
		{req: scavenger.LogRequest{JobID: "j1", TaskID: "0"}, want: "one\ntwo\n"},
		{req: scavenger.LogRequest{JobID: "j1", TaskID: "0", Stream: scavenger.StreamStderr}, want: "oops\n"},
		{req: scavenger.LogRequest{JobID: "j1", TaskID: "0", Offset: 4}, want: "two\n"},
		{req: scavenger.LogRequest{JobID: "nope", TaskID: "0"}, wantErr: `job "nope": no such job`, notFound: true},
		{req: scavenger.LogRequest{JobID: "j1", TaskID: "3"}, wantErr: `job j1 has no task "3": its only task is 0`, notFound: true},
		{req: scavenger.LogRequest{JobID: "j1", TaskID: "0", Stream: "stdin"}, wantErr: `query stream="stdin"`},
	}
	for _, tt := range tests {
		l, err := c.Logs(context.Background(), tt.req)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr && !strings.Contains(err.Error(), tt.wantErr) || errors.Is(err, scavenger.ErrNotFound) != tt.notFound {
				t.Errorf("Logs(%+v): got %v, want %q (ErrNotFound %v)", tt.req, err, tt.wantErr, tt.notFound)
			}
			continue
		}
		if err != nil {
			t.Errorf("Logs(%+v): %v", tt.req, err)
			continue
		}
		got, err := io.ReadAll(l)
		l.Close()
		if string(got) != tt.want || err != nil {
			t.Errorf("Logs(%+v): read %q, %v; want %q", tt.req, got, err, tt.want)
		}
	}
}

func TestLogsFollow(t *testing.T) {
	pr, pw := io.Pipe()
	home := serve(t, &backend{live: pr})
	l, err := client.New(home).Logs(context.Background(), scavenger.LogRequest{JobID: "j1", TaskID: "0", Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	br := bufio.NewReader(l)
	for _, line := range []string{"a\n", "b\n"} {
		go pw.Write([]byte(line))
		if got, err := br.ReadString('\n'); got != line || err != nil {
			t.Fatalf("read %q, %v; want %q", got, err, line)
		}
	}
	pw.Close()
	if rest, err := io.ReadAll(br); len(rest) != 0 || err != nil {
		t.Errorf("after the end: %q, %v; want a clean EOF", rest, err)
	}
}

func TestLogsBrokenOff(t *testing.T) {
	pr, pw := io.Pipe()
	home := serve(t, &backend{live: pr})
	l, err := client.New(home).Logs(context.Background(), scavenger.LogRequest{JobID: "j1", TaskID: "0", Offset: 10, Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		pw.Write([]byte("abc"))
		pw.CloseWithError(errors.New("the daemon is stopping"))
	}()
	got, err := io.ReadAll(l)
	want := "stdout of job j1 task 0 broke off at byte 13"
	if string(got) != "abc" || err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("got %q, %v; want %q and an error saying %q", got, err, "abc", want)
	}
}

func TestLogsFollowCancelled(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	home := serve(t, &backend{live: pr})
	ctx, cancel := context.WithCancel(context.Background())
	l, err := client.New(home).Logs(ctx, scavenger.LogRequest{JobID: "j1", TaskID: "0", Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go pw.Write([]byte("x"))
	buf := make([]byte, 8)
	if n, err := l.Read(buf); string(buf[:n]) != "x" || err != nil {
		t.Fatalf("read %q, %v; want %q", buf[:n], err, "x")
	}
	cancel()
	if n, err := l.Read(buf); n != 0 || !errors.Is(err, context.Canceled) {
		t.Errorf("read after cancel: %d, %v; want 0, context.Canceled", n, err)
	}
}
