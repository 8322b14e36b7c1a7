package debug

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
)

// tracer is one trace session in one pod as the client sees it, and the one
// type behind every command that touches a session: the trace itself
// (attached or --detach), attach, logs and stop. It owns the session's one
// Ctrl-C state machine (interact), its one stop, its one log stream (logs)
// and its one wait for the result (wait). It knows no flags: the commands
// build it from their own options.
type tracer struct {
	kube
	// pod and name say where the session is: its pod and its container.
	pod, name string
	// out receives the program's output, errOut the runner's lines and the
	// client's progress.
	out, errOut io.Writer
	// interrupts delivers the user's Ctrl-C (SIGINT) and SIGTERM.
	interrupts <-chan os.Signal
	// onReady runs once, when the runner's ready line (probes attached)
	// goes by in any of the session's streams.
	onReady func()

	// state is the container's state when the client found it.
	state corev1.ContainerState
	// injected is true once the patch that adds the tracer was sent;
	// stopped once the client stopped it (a detached start that failed).
	injected, stopped bool
	// presses counts the user's interrupts over every phase of the session.
	presses int

	mu sync.Mutex
	// code is the exit code of the runner's result line; hasCode says
	// whether it came.
	code    int
	hasCode bool
	ready   sync.Once
}

// errLeft means the user left before the trace ended (second Ctrl-C).
var errLeft = errors.New("left the session before the trace ended")

// setResult records the exit code of the runner's result line.
func (t *tracer) setResult(code int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.code, t.hasCode = code, true
}

// result is the exit code of the runner's result line, if it came.
func (t *tracer) result() (int, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.code, t.hasCode
}

// watcher passes w through, noting the runner's ready and result lines.
func (t *tracer) watcher(w io.Writer) *readyWatcher {
	return &readyWatcher{w: w, onResult: t.setResult, onReady: func() {
		if t.onReady != nil {
			t.ready.Do(t.onReady)
		}
	}}
}

// progress prints a line about what the command is doing to stderr.
func (t *tracer) progress(format string, a ...any) { progressf(t.errOut, format, a...) }

// progressf prints a progress line to w (the command's stderr).
func progressf(w io.Writer, format string, a ...any) {
	fmt.Fprintf(w, "trace-debug: "+format+"\n", a...)
}

// interact runs stream, reading the user's interrupts meanwhile: the first
// asks the session to stop (its maps then come through the stream), the
// next leaves at once, cancelling the stream, and returns errLeft. With
// leaveFirst (attach --no-stop) the first already leaves. The count of
// interrupts carries over from one call to the next.
func (t *tracer) interact(ctx context.Context, leaveFirst bool, stop func(), stream func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- stream(ctx) }()
	for {
		select {
		case err := <-done:
			return err
		case <-t.interrupts:
			t.presses++
			if leaveFirst || t.presses > 1 {
				cancel()
				<-done
				return errLeft
			}
			t.progress("stopping session %s; its maps follow (Ctrl-C again to leave at once)", t.name)
			stop()
		}
	}
}

// stopLine is the control message that ends a session the Ctrl-C way.
var stopLine = []byte(protocol.Stop + "\n")

// sendStop asks the session to stop through an attach of its own; a failure
// is reported, not returned (the session still ends at its deadline).
func (t *tracer) sendStop(ctx context.Context) {
	if err := t.send(ctx, stopLine); err != nil {
		t.progress("%v", err)
	}
}

// send writes control lines to the session's stdin (see kube.sendControl).
func (t *tracer) send(ctx context.Context, payload []byte) error {
	return t.sendControl(ctx, t.pod, t.name, payload)
}

// stopTail is how many lines of the log a stop reads back: the result line
// may have been written before the stop's log stream opened.
const stopTail = 10

// errEnded means a session to stop had already ended: its result line is
// in its log (its container may still be detaching probes) or it exited.
var errEnded = errors.New("the session has already ended")

// stop asks the session to end the Ctrl-C way and waits until it has: its
// result line in the log (the maps are printed; the container may still be
// detaching probes), or the container's exit. A session that had already
// ended returns errEnded with its ending.
func (t *tracer) stop(ctx context.Context) (ending, error) {
	tail := int64(stopTail)
	if t.endedAlready(ctx) {
		e, err := t.wait(ctx)
		if err == nil {
			err = errEnded
		}
		return e, err
	}
	if err := t.send(ctx, stopLine); err != nil {
		if t.endedAlready(ctx) { // it ended while the stop was on its way
			e, werr := t.wait(ctx)
			if werr == nil {
				werr = errEnded
			}
			return e, werr
		}
		return ending{}, err
	}
	// The runner ends within its stop grace (a kill after it): bounded, so
	// a wedged session cannot hold `stop` until its deadline.
	followCtx, cancel := context.WithTimeout(ctx, finishTimeout)
	defer cancel()
	if err := t.logs(followCtx, &corev1.PodLogOptions{Follow: true, TailLines: &tail}, io.Discard); err != nil {
		t.progress("%v; waiting for the container's exit instead", err)
	}
	return t.wait(ctx)
}

// endedAlready reports whether the session's result line is at the end of
// its log, or its container has exited.
func (t *tracer) endedAlready(ctx context.Context) bool {
	tail := int64(stopTail)
	if t.logs(ctx, &corev1.PodLogOptions{TailLines: &tail}, io.Discard) == nil {
		if _, ok := t.result(); ok {
			return true
		}
	}
	st, err := t.currentState(ctx)
	return err == nil && st.Terminated != nil
}

// ending is how a session ended: the exit code of its result line, or, when
// none came, its container's termination.
type ending struct {
	code       int
	terminated *corev1.ContainerStateTerminated
}

// exitCode is the session's exit code.
func (e ending) exitCode() int {
	if e.terminated != nil {
		return int(e.terminated.ExitCode)
	}
	return e.code
}

// err turns the ending into the command's result.
func (e ending) err(name string) error {
	if e.terminated != nil {
		return tracerResult(name, e.terminated)
	}
	return exitResult(name, e.code, "")
}

// wait returns how the session ended: at once when its result line came
// (the output is complete), else once its container has exited. Ctrl-C or
// SIGTERM interrupts the wait.
func (t *tracer) wait(ctx context.Context) (ending, error) {
	if code, ok := t.result(); ok {
		return ending{code: code}, nil
	}
	waitCtx, release := interruptible(ctx, t.interrupts)
	defer release()
	st, err := t.watchTracer(waitCtx, t.pod, t.name, untilTerminated())
	if interrupted(waitCtx) {
		return ending{}, interruptedError("waiting for the session's exit status", fmt.Sprintf("session %s was ending; it ends by itself", t.name))
	}
	if err != nil {
		return ending{}, err
	}
	return ending{terminated: st.Terminated}, nil
}

// finish waits for the session's end and turns it into the command's result.
func (t *tracer) finish(ctx context.Context) error {
	e, err := t.wait(ctx)
	if err != nil {
		return err
	}
	return e.err(t.name)
}

// leftError is the command's result when the user left a running session.
func (t *tracer) leftError(goesOn string) error {
	return codef(ExitInterrupted, "%s; %s", errLeft, goesOn)
}

// goesOnNote tells how to come back to a session left running.
func goesOnNote(pod, name string) string {
	return fmt.Sprintf("it goes on (follow it with `kubectl trace-debug attach pod/%s %s`, end it with `kubectl trace-debug stop pod/%s %s`)", pod, name, pod, name)
}

// tracerResult turns the tracer container's exit into the command's result.
func tracerResult(name string, t *corev1.ContainerStateTerminated) error {
	if t.Reason == "StartError" || t.Reason == "ContainerCannotRun" {
		return codef(ExitImage, "tracer %s could not start (%s): %s; check the runner image (--image)", name, t.Reason, strings.TrimSpace(t.Message))
	}
	return exitResult(name, int(t.ExitCode), t.Reason)
}

// exitResult turns the session's exit code into the command's result.
func exitResult(name string, code int, reason string) error {
	switch code {
	case 0:
		return nil
	case protocol.ExitProgramRejected:
		return codef(ExitProgramRejected, "the program was rejected before anything was attached (the tracer's message is above); fix it and run again")
	case protocol.ExitUnsafeProgram:
		return codef(ExitProgramRejected, "refused the program: it would crash its target (the tracer's message above says why and what to use instead)")
	case protocol.ExitKernelUnsupported:
		return codef(ExitKernel, "the node's kernel cannot be traced (the tracer's message is above)")
	case protocol.ExitTargetNotFound:
		return codef(ExitTargetNotFound, "the tracer could not find the target container's process (its message is above)")
	case protocol.ExitNoClient:
		return codef(ExitInternal, "tracer %s did not hear from this client and did not start; check that pods/attach is allowed and run again", name)
	case protocol.ExitUsage:
		return codef(ExitImage, "the runner image does not understand this client (different versions); pass --image with the image of version %s", Version())
	case protocol.ExitExpired:
		return codef(ExitTimeout, "tracer %s started after its session's deadline and traced nothing (its image took that long to start?); run again, with a longer --deadline if the pull is slow", name)
	case protocol.ExitMemory:
		return codef(ExitMemory, "the tracer was not started: it might not fit under the pod's memory limit (the runner's message above has the numbers and the alternatives)")
	}
	if reason == "" {
		return codef(code, "the tracer exited with code %d", code)
	}
	return codef(code, "the tracer exited with code %d (%s)", code, reason)
}

// retryPause is the pause between attempts to reach a session again after
// its stream broke.
const retryPause = time.Second
