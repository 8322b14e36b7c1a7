package debug

import (
	"errors"
	"fmt"
)

// Exit codes of kubectl trace-debug. When the tracer ran, the command exits
// with the tracer's own code instead (bpftrace: 0 or 1).
const (
	// ExitUsage: bad flags or arguments, unreadable program file.
	ExitUsage = 2
	// ExitTargetNotFound: no such pod or container, or it is not running.
	ExitTargetNotFound = 3
	// ExitForbidden: the user lacks an RBAC permission the command needs.
	ExitForbidden = 4
	// ExitPodSecurity: Pod Security admission refused the privileged tracer.
	ExitPodSecurity = 5
	// ExitUnsupportedPod: Windows, static (mirror) pods, or a cluster
	// without ephemeral containers.
	ExitUnsupportedPod = 6
	// ExitImage: the tracer image could not be pulled or its container could
	// not start.
	ExitImage = 7
	// ExitProgramRejected: the tracer refused the program before attaching
	// (syntax error, unknown probe, verifier).
	ExitProgramRejected = 8
	// ExitTimeout: timed out waiting for the tracer container.
	ExitTimeout = 9
	// ExitKernel: the node's kernel cannot be traced (no BTF or headers, no tracefs).
	ExitKernel = 10
	// ExitInternal: any other failure (API unreachable, stream broken).
	ExitInternal = 11
	// ExitMemory: the tracer was not started because its expected peak
	// memory does not fit under the pod's memory limit.
	ExitMemory = 12
	// ExitPartial: a workload or selector had pods that were not traced
	// (not running, refused, failed) while others were; each pod's outcome
	// is on stderr.
	ExitPartial = 13
	// ExitInterrupted: the user left before the trace ended (second Ctrl-C).
	ExitInterrupted = 130
)

// ExitError is an error that decides the command's exit code.
type ExitError struct {
	Code int
	Err  error
}

// Error is the wrapped error's message.
func (e *ExitError) Error() string { return e.Err.Error() }

// Unwrap returns the wrapped error.
func (e *ExitError) Unwrap() error { return e.Err }

// withCode wraps err so that the command exits with code.
func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &ExitError{Code: code, Err: err}
}

// codef is withCode(code, fmt.Errorf(format, a...)).
func codef(code int, format string, a ...any) error {
	return withCode(code, fmt.Errorf(format, a...))
}

// ExitCode returns the exit code err asks for: 0 for nil, an ExitError's
// code, ExitInternal otherwise.
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return ExitInternal
}
