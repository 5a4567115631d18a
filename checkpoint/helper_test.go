package checkpoint

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strconv"
	"testing"
	"time"
)

// The test binary doubles as the guest the tests checkpoint: started with
// envHelper set, TestMain runs the named helper instead of the tests. A
// real Go program (threads, GC, timers) is a fairer subject for criu than
// a shell loop, and needs no build step.
const (
	envHelper  = "SCAVENGE_CHECKPOINT_TEST_HELPER" // "counter" or "cooperative"
	envMemMiB  = "SCAVENGE_CHECKPOINT_TEST_MEM_MIB"
	envMemFill = "SCAVENGE_CHECKPOINT_TEST_MEM_FILL" // "random" (default) or "text": compressible
	envDial    = "SCAVENGE_CHECKPOINT_TEST_DIAL"     // counter: keep a TCP connection to this address
)

func TestMain(m *testing.M) {
	name := os.Getenv(envHelper)
	if name == "" {
		os.Exit(m.Run())
	}
	run, ok := helpers[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "unknown %s=%q\n", envHelper, name)
		os.Exit(2)
	}
	run()
	os.Exit(0)
}

// helpers maps envHelper values to helper programs; OS-specific ones add
// themselves from their own files.
var helpers = map[string]func(){"counter": counterMain}

// counterMain prints 1, 2, 3, ... one line every 2 ms, forever. Its count
// lives only in memory, so output that goes on from where it stopped after
// a restore proves the memory came back. It first touches envMemMiB MiB of
// memory, to give the dump a size, then prints "ready".
func counterMain() {
	mem := touchMemory(os.Getenv(envMemMiB), os.Getenv(envMemFill))
	if addr := os.Getenv(envDial); addr != "" {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		defer conn.Close()
	}
	w := bufio.NewWriterSize(os.Stdout, 64)
	fmt.Fprintln(w, "ready")
	w.Flush()
	for i := 1; ; i++ {
		fmt.Fprintln(w, i)
		w.Flush()
		mem[i%len(mem)]++ // keep the memory live, and dirty a little of it
		time.Sleep(2 * time.Millisecond)
	}
}

// touchMemory fills mib MiB with pseudo-random bytes, which defeat zstd
// like the worst real data, or with fill "text", numbered lines that
// compress about as well as a typical heap.
func touchMemory(mibText, fill string) []byte {
	mib, _ := strconv.Atoi(mibText)
	mem := make([]byte, max(mib, 0)<<20+1)
	if fill == "text" {
		var line []byte // reused: garbage would grow the heap past mib
		for i, n := 0, 0; i < len(mem); n++ {
			line = append(strconv.AppendInt(append(line[:0], "record "...), int64(n), 10), " value="...)
			line = append(strconv.AppendInt(line, int64(n*7919%100003), 10), " status=ok\n"...)
			i += copy(mem[i:], line)
		}
		return mem
	}
	x := uint64(0x9e3779b97f4a7c15)
	for i := 0; i+8 <= len(mem); i += 8 {
		x ^= x << 13 // xorshift64: cheap, and defeats zstd like real data at worst
		x ^= x >> 7
		x ^= x << 17
		for j := range 8 {
			mem[i+j] = byte(x >> (8 * j))
		}
	}
	return mem
}
