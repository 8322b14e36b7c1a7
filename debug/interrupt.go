package debug

import (
	"context"
	"errors"
	"os"
)

// errInterrupted is the cause of a context cancelled by the user's Ctrl-C
// or SIGTERM while the command waited.
var errInterrupted = errors.New("interrupted")

// interruptible returns ctx, cancelled with errInterrupted at the first
// signal on interrupts, and release, which stops listening so that another
// phase (a stream's Ctrl-C handling) can read the signals.
func interruptible(ctx context.Context, interrupts <-chan os.Signal) (context.Context, func()) {
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

// interrupted reports whether ctx was cancelled by the user's signal.
func interrupted(ctx context.Context) bool { return errors.Is(context.Cause(ctx), errInterrupted) }

// interruptedError is the command's result when the user interrupted a
// wait: exit 130, saying what was left in the pod.
func interruptedError(while, left string) error {
	if left == "" {
		left = "nothing was left in the pod"
	}
	return codef(ExitInterrupted, "interrupted while %s; %s", while, left)
}
