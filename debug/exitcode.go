package debug

import (
	"fmt"
	"strings"
	"time"

	"github.com/trace-debug/kubectl-trace-debug/debug/exit"
)

// Exit codes of kubectl trace-debug (see package exit). When the tracer
// ran, the command exits with the tracer's own code instead (bpftrace: 0 or 1).
const (
	ExitUsage           = exit.Usage
	ExitTargetNotFound  = exit.TargetNotFound
	ExitForbidden       = exit.Forbidden
	ExitPodSecurity     = exit.PodSecurity
	ExitUnsupportedPod  = exit.UnsupportedPod
	ExitImage           = exit.Image
	ExitProgramRejected = exit.ProgramRejected
	ExitTimeout         = exit.Timeout
	ExitKernel          = exit.Kernel
	ExitInternal        = exit.Internal
	ExitMemory          = exit.Memory
	ExitPartial         = exit.Partial
	ExitAssertFailed    = exit.AssertFailed
	ExitProgramExit     = exit.ProgramExit
	ExitUnsafeRide      = exit.UnsafeRide
	ExitInterrupted     = exit.Interrupted
)

// ExitCode returns the exit code err asks for: 0 for nil, ExitInternal for
// an error that names none.
func ExitCode(err error) int { return exit.Code(err) }

// codef is exit.Codef: an error with an exit code.
func codef(code int, format string, a ...any) error { return exit.Codef(code, format, a...) }

// explain adds to err the words for the fix it carries (a flag to set, a
// subcommand to run): the lower layers name the fix, this layer spells it.
func explain(err error) error {
	fix, ok := exit.FixOf(err)
	if !ok {
		return err
	}
	return &exit.Error{Code: exit.Code(err), Err: fmt.Errorf("%w; %s", err, fixWords(fix))}
}

// fixWords words a fix with the flags and subcommands of this command.
func fixWords(f exit.Fix) string {
	var words []string
	switch f.Setting {
	case exit.Container:
		words = append(words, "choose one with -c CONTAINER")
	case exit.RunnerImage:
		words = append(words, "check the runner image (--image)")
	case exit.MatchingImage:
		words = append(words, fmt.Sprintf("pass --image with the image of version %s", Version()))
	case exit.Deadline:
		words = append(words, "run again, with a longer --deadline if the image is slow to pull")
	case exit.StartTimeout:
		words = append(words, "raise --start-timeout")
	case exit.Target:
		words = append(words, "give pod/NAME, NAME, deploy/NAME, sts/NAME, ds/NAME, rs/NAME, job/NAME or -l SELECTOR")
	case exit.Credentials:
		words = append(words, "check --kubeconfig and --context (or KUBECONFIG)")
	}
	switch f.Command {
	case exit.List:
		if f.Pod != "" {
			words = append(words, "see `kubectl trace-debug list pod/"+f.Pod+"`")
		} else {
			words = append(words, "see `kubectl trace-debug list`")
		}
	case exit.Stop:
		if f.Detached {
			words = append(words, "it ends at its deadline ("+f.Deadline.String()+")"+durationNote(f.Duration)+", or with "+stopCommand(f.Pod, f.Session))
		} else {
			words = append(words, "end it with "+stopCommand(f.Pod, f.Session))
		}
	case exit.Resume:
		words = append(words, goesOnNote("pod/"+f.Pod, f.Session))
	}
	return strings.Join(words, "; ")
}

// durationNote names a detached session's --duration d, when it has one,
// as the other end of its run beside its deadline.
func durationNote(d time.Duration) string {
	if d > 0 {
		return fmt.Sprintf(" or the end of its --duration %v", d)
	}
	return ""
}

// stopCommand is the command that stops session in target.
func stopCommand(target, session string) string {
	return fmt.Sprintf("`kubectl trace-debug stop %s %s`", podArg(target), session)
}

// goesOnNote tells how to come back to a session left running in target.
func goesOnNote(target, session string) string {
	return "it goes on (" + comeBack(target, session) + ")"
}

// comeBack says how to follow a session left running in target, and how
// to end it.
func comeBack(target, session string) string {
	return fmt.Sprintf("follow it with `kubectl trace-debug attach %s %s`, end it with %s", target, session, stopCommand(target, session))
}

// podArg is a pod name as TARGET ("pod/NAME"); other targets unchanged.
func podArg(target string) string {
	if strings.Contains(target, "/") || strings.HasPrefix(target, "-") {
		return target
	}
	return "pod/" + target
}
