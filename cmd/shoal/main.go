// Command shoal runs replicas of an app behind a load balancer on this
// machine, with AWS ECS and ALB semantics. See README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/shoalhq/shoal/internal/cli"
	"github.com/shoalhq/shoal/internal/driver"
)

func main() {
	// When shoal re-executes itself as a task's supervisor (the shim that
	// makes sure no task outlives shoal), this runs the shim and exits.
	driver.RunShimIfInvoked()
	// A closed terminal (SIGHUP) stops shoal the same orderly way as
	// Ctrl-C and kill: drain, then stop the tasks, then remove the socket.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
