// Package exit holds the client's exit codes and the error that carries
// one, with the remedy a lower layer knows of but may not spell: a flag to
// set or a subcommand to run (Fix). Every layer of the client returns these
// errors; the command layer words their fixes and main exits with Code.
package exit

import (
	"errors"
	"fmt"
)

// Exit codes of kubectl trace-debug. When the tracer ran, the command exits
// with the tracer's own code instead (bpftrace: 0 or 1).
const (
	// Usage: bad flags or arguments, unreadable program file.
	Usage = 2
	// TargetNotFound: no such pod or container, or it is not running.
	TargetNotFound = 3
	// Forbidden: the user lacks an RBAC permission the command needs.
	Forbidden = 4
	// PodSecurity: Pod Security admission refused the privileged tracer.
	PodSecurity = 5
	// UnsupportedPod: Windows, static (mirror) pods, or a cluster without
	// ephemeral containers.
	UnsupportedPod = 6
	// Image: the tracer image could not be pulled or its container could
	// not start.
	Image = 7
	// ProgramRejected: the tracer refused the program before attaching
	// (syntax error, unknown probe, verifier).
	ProgramRejected = 8
	// Timeout: timed out waiting for the tracer container.
	Timeout = 9
	// Kernel: the node's kernel cannot be traced (no BTF or headers, no tracefs).
	Kernel = 10
	// Internal: any other failure (API unreachable, stream broken).
	Internal = 11
	// Memory: the tracer was not started because its expected peak memory
	// does not fit under the pod's memory limit.
	Memory = 12
	// Partial: a command over several pods (a workload's, a selector's)
	// failed in some of them, or some were not traced at all; each pod's
	// outcome is on stderr.
	Partial = 13
	// AssertFailed: the trace ran to its end and printed its maps, and an
	// --assert expression did not hold on them (each is on stderr).
	AssertFailed = 14
	// ProgramExit: the program ended itself with exit(N) for an N other
	// than 0 and 1, which is printed; N itself could read as one of these
	// codes.
	ProgramExit = 15
	// UnsafeRide: the program was refused before anything was attached:
	// the runner gives bpftrace --unsafe for its own rewritten probes only,
	// and parts of the program would have ridden on it.
	UnsafeRide = 16
	// NoGoProcess: --goroutines or --wall found no Go process it could read in the
	// pod (each process's reason is above).
	NoGoProcess = 17
	// NoMemProfile: --heap or --alloc found no Go process that keeps a
	// memory profile (its linker turned it off: it links neither
	// runtime/pprof nor anything calling runtime.MemProfile; or the
	// program set runtime.MemProfileRate to 0).
	NoMemProfile = 18
	// Interrupted: the user left before the trace ended (second Ctrl-C).
	Interrupted = 130
)

// Error is an error that decides the command's exit code.
type Error struct {
	Code int
	Err  error
	// Fix, when set, is the remedy the command layer adds to the message.
	Fix *Fix
}

// Error is the wrapped error's message.
func (e *Error) Error() string { return e.Err.Error() }

// Unwrap returns the wrapped error.
func (e *Error) Unwrap() error { return e.Err }

// With wraps err so that the command exits with code.
func With(code int, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Code: code, Err: err}
}

// Codef is With(code, fmt.Errorf(format, a...)).
func Codef(code int, format string, a ...any) error {
	return With(code, fmt.Errorf(format, a...))
}

// Fixf is Codef with a remedy for the command layer to word.
func Fixf(code int, fix Fix, format string, a ...any) error {
	return &Error{Code: code, Err: fmt.Errorf(format, a...), Fix: &fix}
}

// Code returns the exit code err asks for: 0 for nil, an Error's code,
// Internal otherwise.
func Code(err error) int {
	if err == nil {
		return 0
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// FixOf returns the remedy err carries, if any.
func FixOf(err error) (Fix, bool) {
	var e *Error
	for errors.As(err, &e) {
		if e.Fix != nil {
			return *e.Fix, true
		}
		err = e.Err
	}
	return Fix{}, false
}
