package session

import (
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
	"github.com/trace-debug/kubectl-trace-debug/debug/exit"
)

// tracerResult turns the tracer container's exit into the command's result.
func tracerResult(name string, t *corev1.ContainerStateTerminated) error {
	if t.Reason == "StartError" || t.Reason == "ContainerCannotRun" {
		return exit.Fixf(exit.Image, exit.Fix{Setting: exit.RunnerImage}, "tracer %s could not start (%s): %s", name, t.Reason, strings.TrimSpace(t.Message))
	}
	return exitResult(name, int(t.ExitCode), 0, t.Reason)
}

// exitResult turns the session's exit code into the command's result;
// program is the program's own exit(N) when the result line gave it.
func exitResult(name string, code, program int, reason string) error {
	switch code {
	case 0:
		return nil
	case protocol.ExitProgramExit:
		if program == 0 {
			return exit.Codef(exit.ProgramExit, "the program ended itself with its own nonzero exit code (its log's last line gives it)")
		}
		return exit.Codef(exit.ProgramExit, "the program ended itself with exit(%d)", program)
	case protocol.ExitProgramRejected:
		return exit.Codef(exit.ProgramRejected, "the program was rejected before anything was attached (the tracer's message is above); fix it and run again")
	case protocol.ExitUnsafeProgram:
		return exit.Codef(exit.ProgramRejected, "refused the program: it would crash its target (the tracer's message above says why and what to use instead)")
	case protocol.ExitUnsafeRide:
		return exit.Codef(exit.UnsafeRide, "refused the program before anything was attached: its stripped Go return probes need bpftrace's --unsafe, and other parts of it would ride on that --unsafe (the tracer's message above names them and what to do instead)")
	case protocol.ExitNoGoProcess:
		return exit.Codef(exit.NoGoProcess, "no Go process of the target could be read (the tracer's message above names each process and what is missing: not Go, or a Go release or binary the reader does not know); --goroutines and --wall read Go 1.21 to 1.27, amd64")
	case protocol.ExitNoMemProfile:
		return exit.Codef(exit.NoMemProfile, "no Go process of the target keeps a memory profile (the tracer's message above says why for each): the Go linker leaves it out of a binary where nothing can read it; importing net/http/pprof or runtime/pprof in the program keeps it, and nothing else is needed")
	case protocol.ExitKernelUnsupported:
		return exit.Codef(exit.Kernel, "the node's kernel cannot be traced (the tracer's message is above)")
	case protocol.ExitTargetNotFound:
		return exit.Codef(exit.TargetNotFound, "the tracer could not find the target container's process (its message is above)")
	case protocol.ExitNoClient:
		return exit.Codef(exit.Internal, "tracer %s did not hear from this client and did not start; check that pods/attach is allowed and run again", name)
	case protocol.ExitUsage:
		return exit.Fixf(exit.Image, exit.Fix{Setting: exit.MatchingImage}, "the runner image does not understand this client (different versions)")
	case protocol.ExitExpired:
		return exit.Fixf(exit.Timeout, exit.Fix{Setting: exit.Deadline}, "tracer %s started after its session's deadline and traced nothing (its image took that long to start?)", name)
	case protocol.ExitMemory:
		return exit.Codef(exit.Memory, "the tracer was not started: it might not fit under the pod's memory limit (the runner's message above has the numbers and the alternatives)")
	}
	if reason == "" {
		return exit.Codef(code, "the tracer exited with code %d", code)
	}
	return exit.Codef(code, "the tracer exited with code %d (%s)", code, reason)
}
