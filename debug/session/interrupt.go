package session

import (
	"context"
	"errors"
	"os"

	"github.com/trace-debug/kubectl-trace-debug/debug/exit"
)

// errInterrupted is the cause of a context cancelled by the user's Ctrl-C
// or SIGTERM while the command waited.
var errInterrupted = errors.New("interrupted")

// Interruptible returns ctx, cancelled at the first signal on interrupts,
// and release, which stops listening so that another phase (a stream's
// Ctrl-C handling) can read the signals.
func Interruptible(ctx context.Context, interrupts <-chan os.Signal) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	released := make(chan struct{})
	go func() {
		select {
		case <-interrupts:
			cancel(errInterrupted)
		case <-released:
		case <-ctx.Done():
		}
	}()
	var once bool
	return ctx, func() {
		if !once {
			once = true
			close(released)
		}
	}
}

// Interrupted reports whether ctx was cancelled by the user's signal.
func Interrupted(ctx context.Context) bool { return errors.Is(context.Cause(ctx), errInterrupted) }

// InterruptedError is the command's result when the user interrupted a
// wait: exit 130, saying what was left in the pod, with fix (when set) for
// what was left.
func InterruptedError(while, left string, fix *exit.Fix) error {
	if left == "" {
		left = "nothing was left in the pod"
	}
	if fix != nil {
		return exit.Fixf(exit.Interrupted, *fix, "interrupted while %s; %s", while, left)
	}
	return exit.Codef(exit.Interrupted, "interrupted while %s; %s", while, left)
}

// WhileInterruptible runs wait with a context that the first signal on
// interrupts cancels; interrupted, the result is InterruptedError(while,
// left, nil) whatever wait returned.
func WhileInterruptible(ctx context.Context, interrupts <-chan os.Signal, while, left string, wait func(context.Context) error) error {
	waitCtx, release := Interruptible(ctx, interrupts)
	defer release()
	err := wait(waitCtx)
	if Interrupted(waitCtx) {
		return InterruptedError(while, left, nil)
	}
	return err
}

// Interact runs stream, reading the user's interrupts meanwhile: the first
// asks the session to stop (stop; its maps then come through the stream),
// the next leaves at once, cancelling the stream, and returns ErrLeft. With
// leaveFirst (attach without stopping) the first already leaves. The count
// of interrupts carries over from one call to the next.
func (t *Tracer) Interact(ctx context.Context, leaveFirst bool, stop func(), stream func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- stream(ctx) }()
	for {
		select {
		case err := <-done:
			return err
		case <-t.Interrupts:
			t.presses++
			if leaveFirst || t.presses > 1 {
				cancel()
				<-done
				return ErrLeft
			}
			t.progress("stopping session %s; its maps follow (Ctrl-C again to leave at once)", t.Name)
			stop()
		}
	}
}
