//go:build unix

package checkpoint

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"time"
)

func init() { helpers["cooperative"] = cooperativeMain }

// cooperativeMain follows the signal protocol: it counts in memory; on the
// checkpoint request it writes its count to $SCAVENGE_CHECKPOINT_DIR/count
// and exits with ExitCheckpointed; started with SCAVENGE_RESUMED=1 it reads
// the count back and goes on from there. Every number goes to stdout.
func cooperativeMain() {
	dir := os.Getenv(EnvCheckpointDir)
	state := filepath.Join(dir, "count")
	i := 0
	if os.Getenv(EnvResumed) == "1" {
		b, err := os.ReadFile(state)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		i, _ = strconv.Atoi(string(b))
	}
	req := make(chan os.Signal, 1)
	signal.Notify(req, RequestSignal)
	fmt.Println("ready")
	tick := time.NewTicker(2 * time.Millisecond)
	for {
		select {
		case <-req:
			if err := os.WriteFile(state, []byte(strconv.Itoa(i)), 0o600); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(3)
			}
			os.Exit(ExitCheckpointed)
		case <-tick.C:
			i++
			fmt.Println(i)
		}
	}
}
