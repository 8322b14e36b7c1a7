package debug

import (
	"bytes"
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// detach prints the session's name on stdout at once, then follows its log
// until its probes are attached and returns, leaving the trace running
// until its --duration, its --deadline or `stop`. A tracer that ends before
// that gets its output printed and its exit code returned, as an attached
// one. If the client fails or is interrupted before the probes are
// attached, it stops the tracer rather than leave it running unwatched.
func (o *TraceOptions) detach(ctx context.Context, t *tracer) (err error) {
	if !o.group { // a group prints its session's name once, for every pod
		fmt.Fprintln(o.Out, t.name)
	}
	var early bytes.Buffer
	ready := false
	defer func() {
		if err != nil && !ready && t.state.Terminated == nil {
			stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
			defer cancel()
			if t.send(stopCtx, stopLine) == nil {
				t.stopped = true
			}
		}
	}()
	if t.state.Terminated == nil {
		if o.programOnStdin() {
			if err := t.send(ctx, programMessage(o.Program)); err != nil {
				return err
			}
		}
		logCtx, cancel := context.WithCancel(ctx)
		defer cancel()
		userReady := t.onReady
		t.onReady = func() {
			ready = true
			cancel()
			if userReady != nil {
				userReady()
			}
		}
		if err := t.logs(logCtx, &corev1.PodLogOptions{Follow: true}, &early); err != nil {
			return err
		}
	}
	if ready && o.group {
		o.progress("probes attached")
		return nil
	}
	if ready {
		o.progress("tracer %s runs detached until its deadline (%v)%s; follow it with `kubectl trace-debug attach pod/%s %s`, end it with `kubectl trace-debug stop pod/%s %s`",
			t.name, o.Deadline, durationNote(o), o.PodName, t.name, o.PodName, t.name)
		return nil
	}
	// It ended before its probes were attached: show why.
	e, err := t.wait(ctx)
	if err != nil {
		return err
	}
	if early.Len() == 0 {
		if err := t.logs(ctx, &corev1.PodLogOptions{}, o.ErrOut); err != nil {
			return err
		}
	}
	_, _ = o.ErrOut.Write(early.Bytes())
	return e.err(t.name)
}

func durationNote(o *TraceOptions) string {
	if o.Duration > 0 {
		return fmt.Sprintf(" or for --duration %v", o.Duration)
	}
	return ""
}
