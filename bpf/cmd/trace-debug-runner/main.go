// Command trace-debug-runner is the process of the ephemeral container that
// kubectl trace-debug injects: it decodes the session from its arguments and
// hands it to package runner, exiting with the tracer's code.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
	"github.com/trace-debug/kubectl-trace-debug/bpf/runner"
)

func main() {
	session, err := protocol.ParseArgs(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "trace-debug-runner: %v (is the runner image the same version as the client? pass --image to choose it)\n", err)
		os.Exit(protocol.ExitUsage)
	}
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer cancel()
	// TRACE_DEBUG_BPFTRACE names another bpftrace binary; the image's own
	// records its version in TRACE_DEBUG_BPFTRACE_VERSION.
	tracer, version := os.Getenv("TRACE_DEBUG_BPFTRACE"), ""
	if tracer == "" {
		tracer, version = "bpftrace", os.Getenv("TRACE_DEBUG_BPFTRACE_VERSION")
	}
	os.Exit(runner.Run(ctx, runner.Options{
		Session:       session,
		Stdin:         os.Stdin,
		Stdout:        os.Stdout,
		Stderr:        os.Stderr,
		Kernel:        runner.HostKernel(),
		ProcRoot:      "/proc",
		Tracer:        tracer,
		TracerVersion: version,
		StopGrace:     10 * time.Second,
		CloseOutput: func() {
			// The client's stream ends once the container's stdout and stderr
			// are closed: point both at /dev/null.
			if null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0); err == nil {
				_ = syscall.Dup2(int(null.Fd()), 1)
				_ = syscall.Dup2(int(null.Fd()), 2)
				null.Close()
			}
		},
	}))
}
