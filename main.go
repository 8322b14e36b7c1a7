// Command kubectl-trace_debug is the kubectl trace-debug plugin: kubectl runs
// it for `kubectl trace-debug ...`. It wires the standard streams and the
// interrupt signals to package debug and exits once, with the code the
// command decided.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/trace-debug/kubectl-trace-debug/debug"
)

func main() {
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	interrupts := make(chan os.Signal, 2)
	signal.Notify(interrupts, syscall.SIGINT, syscall.SIGTERM)
	if err := debug.NewCmdTraceDebug(streams, interrupts).ExecuteContext(context.Background()); err != nil {
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
		os.Exit(debug.ExitCode(err))
	}
}
