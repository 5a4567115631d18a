// Command counter is the migration tests' task: it counts to N, one step
// every -step, and prints its progress. It follows the signal checkpoint
// protocol when SCAVENGE_CHECKPOINT_DIR is set (on SIGUSR2 it saves its
// count and exits 85; with SCAVENGE_CHECKPOINT_EVERY it also saves on its
// own), and under criu it needs nothing: its count lives in memory.
//
// Its output tells how it ran: "start" when it began from zero, "resumed
// at K" when it began from a saved count, and "counted N" at the end. A
// task that moved without losing work prints "start" once.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	n := flag.Int("n", 300, "count to `N`")
	step := flag.Duration("step", 20*time.Millisecond, "time per step")
	flag.Parse()

	dir := os.Getenv("SCAVENGE_CHECKPOINT_DIR")
	i := 0
	if os.Getenv("SCAVENGE_RESUMED") == "1" {
		b, err := os.ReadFile(filepath.Join(dir, "count"))
		if err != nil {
			fmt.Fprintln(os.Stderr, "resume:", err)
			os.Exit(2)
		}
		i, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		fmt.Printf("resumed at %d\n", i)
	} else {
		fmt.Println("start")
	}
	save := func() {
		tmp := filepath.Join(dir, "count.tmp")
		if err := os.WriteFile(tmp, []byte(strconv.Itoa(i)), 0o644); err == nil {
			os.Rename(tmp, filepath.Join(dir, "count"))
		}
	}
	req := make(chan os.Signal, 1)
	signal.Notify(req, syscall.SIGUSR2)
	var every <-chan time.Time
	if s, _ := strconv.Atoi(os.Getenv("SCAVENGE_CHECKPOINT_EVERY")); s > 0 && dir != "" {
		every = time.Tick(time.Duration(s) * time.Second)
	}
	tick := time.NewTicker(*step)
	for i < *n {
		select {
		case <-req:
			if dir != "" {
				save()
				fmt.Printf("saved at %d\n", i)
				os.Exit(85)
			}
		case <-every:
			save()
			os.WriteFile(filepath.Join(dir, "SCAVENGE_CHECKPOINT_DONE"), []byte(time.Now().String()), 0o644)
		case <-tick.C:
			i++
			if i%25 == 0 {
				fmt.Printf("count %d\n", i)
			}
		}
	}
	fmt.Printf("counted %d\n", i)
}
