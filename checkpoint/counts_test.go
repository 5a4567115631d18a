package checkpoint

import (
	"bufio"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// counts collects the numbers a counting guest prints, from any number of
// streams one after the other (before and after a restore).
type counts struct {
	done chan struct{} // set by those who keep read's result
	mu   sync.Mutex
	nums []int
	text []string // anything else it printed, for failure messages
}

// read consumes r until EOF in the background; done closes then.
func (c *counts) read(r io.Reader) (done chan struct{}) {
	done = make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			c.add(sc.Text())
		}
	}()
	return done
}

func (c *counts) add(line string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n, err := strconv.Atoi(strings.TrimSpace(line)); err == nil {
		c.nums = append(c.nums, n)
	} else {
		c.text = append(c.text, line)
	}
}

func (c *counts) snapshot() ([]int, []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int(nil), c.nums...), append([]string(nil), c.text...)
}

// readFile replaces the counts with those in the file at path: guests
// that write to a file are read this way.
func (c *counts) readFile(tb testing.TB, path string) {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	c.mu.Lock()
	c.nums, c.text = nil, nil
	c.mu.Unlock()
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		c.add(line)
	}
}

// waitFor polls until there are at least n numbers; refresh reloads them
// first when not nil. It fails the test after a timeout.
func (c *counts) waitFor(tb testing.TB, n int, refresh func()) []int {
	tb.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if refresh != nil {
			refresh()
		}
		nums, text := c.snapshot()
		if len(nums) >= n {
			return nums
		}
		if time.Now().After(deadline) {
			tb.Fatalf("guest printed %d numbers in 30 s, want %d; other output: %q", len(nums), n, text)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// consecutive fails unless nums is 1, 2, 3, ...: a guest that restarted
// would print 1 again, one that lost memory would jump.
func consecutive(tb testing.TB, nums []int) {
	tb.Helper()
	for i, n := range nums {
		if n != i+1 {
			lo, hi := max(0, i-3), min(len(nums), i+3)
			tb.Fatalf("count %d is %d, want %d: around it %v (a restart would print 1 again)", i+1, n, i+1, nums[lo:hi])
		}
	}
}
