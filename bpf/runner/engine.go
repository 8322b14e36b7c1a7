package runner

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
)

// Engine is one way of tracing the target: bpftrace, the syscall census,
// the Go function tracer or the CPU profile. Run drives every engine through one lifecycle —
// hello, kernel, target, memory, start, ready, supervise, stop, summary — so
// adding an engine is adding one file that implements this interface and a
// case in newEngine.
type Engine interface {
	// NeedsKernelTypes reports whether the engine reads kernel types (BTF or
	// kernel headers); the native engines do not.
	NeedsKernelTypes() bool
	// PeakMemory is the engine's expected peak resident memory, in bytes.
	PeakMemory() uint64
	// Start begins tracing t and returns the running trace. An error carries
	// the runner's exit code (see failure); the engine has said why.
	Start(ctx context.Context, t Target) (Trace, error)
}

// Trace is a running engine.
type Trace interface {
	// Ready delivers the number of probes once every probe is attached.
	Ready() <-chan int
	// Stop ends the trace the Ctrl-C way: its summary is printed. Calling it
	// again repeats the request.
	Stop()
	// Kill ends the trace at once.
	Kill()
	// StopGrace is how long the trace may take to finish after Stop.
	StopGrace() time.Duration
	// Done is closed when the trace's output is complete.
	Done() <-chan struct{}
	// ExitCode is the session's exit code, once Done.
	ExitCode() int
	// Close releases what the trace holds; for bpftrace it waits until the
	// process, and so its probes, are gone.
	Close()
}

// Target is what an engine traces.
type Target struct {
	// PID is the target container's main process in ProcRoot's namespace.
	PID int
	// ProcRoot is normally /proc.
	ProcRoot string
	// Env is extra environment for tracer processes (where kernel types are).
	Env []string
}

// newEngine is the one place that turns the session into its engine;
// features are the bpftrace binary's (see detectFeatures).
func (o Options) newEngine(features <-chan Features) Engine {
	switch o.Session.Engine() {
	case protocol.EngineSyscalls:
		return censusEngine{o}
	case protocol.EngineFunc:
		return goFuncEngine{o}
	case protocol.EngineCPU:
		return cpuEngine{o}
	case protocol.EngineGoroutines:
		return goroutinesEngine{o}
	case protocol.EngineWall:
		return wallEngine{o}
	case protocol.EngineHeap:
		return heapEngine{o}
	}
	return &bpftraceEngine{o: o, features: features}
}

// failure is an engine error that carries the runner's exit code.
type failure struct {
	code int
	err  error
}

func (f *failure) Error() string { return f.err.Error() }
func (f *failure) Unwrap() error { return f.err }

// fail wraps err with the exit code the runner should end with.
func fail(code int, err error) error { return &failure{code, err} }

// failureCode is the exit code err carries, or protocol.ExitProgramRejected.
func failureCode(err error) int {
	var f *failure
	if errors.As(err, &f) {
		return f.code
	}
	return protocol.ExitProgramRejected
}

// announce writes an engine's first line of output, as bpftrace does: the
// probe count in JSON mode, or text saying what is traced.
func (o Options) announce(probes int, text string) {
	if o.Session.JSON {
		fmt.Fprintf(o.Stdout, "{\"type\": \"attached_probes\", \"data\": {\"probes\": %d}}\n", probes)
		return
	}
	fmt.Fprintln(o.Stdout, text)
}
