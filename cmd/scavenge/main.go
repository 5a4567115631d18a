// Command scavenge lends idle office computers to each other: run
// 'scavenge help' for its commands.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/scavenge/scavenge/cmd/scavenge/cli"
	"github.com/scavenge/scavenge/scavenger/executor"
)

func main() {
	// First: when this process is a guest being set up by the executor,
	// Init finishes that and never returns.
	executor.Init()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}
