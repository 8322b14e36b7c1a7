package session

import (
	"bytes"
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Detach prints the session's name on stdout at once (with printName),
// sends program (a program that travels on stdin; nil: none), then follows
// the session's log until its probes are attached and returns, leaving the
// trace running until its duration, its deadline or a stop. A tracer that
// ends before that gets its output printed and its exit code returned, as
// an attached one. If the client fails or is interrupted before the probes
// are attached, it stops the tracer rather than leave it running unwatched.
func (t *Tracer) Detach(ctx context.Context, program []byte, printName bool) (err error) {
	if printName {
		fmt.Fprintln(t.Out, t.Name)
	}
	var early bytes.Buffer
	ready := false
	defer func() {
		if err != nil && !ready && t.State.Terminated == nil {
			stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
			defer cancel()
			if t.send(stopCtx, stopLine) == nil {
				t.stopped = true
			}
		}
	}()
	if t.State.Terminated == nil {
		if program != nil {
			if err := t.send(ctx, program); err != nil {
				return err
			}
		}
		logCtx, cancel := context.WithCancel(ctx)
		defer cancel()
		userReady := t.OnReady
		t.OnReady = func(name string) {
			ready = true
			cancel()
			if userReady != nil {
				userReady(name)
			}
		}
		if err := t.Logs(logCtx, &corev1.PodLogOptions{Follow: true}, &early); err != nil {
			return err
		}
	}
	if ready {
		t.detached = true
		if !printName { // a group's member: the group says the rest
			t.progress("probes attached")
		}
		return nil
	}
	// It ended before its probes were attached: show why.
	e, err := t.Wait(ctx)
	if err != nil {
		return err
	}
	if early.Len() == 0 {
		if err := t.Logs(ctx, &corev1.PodLogOptions{}, t.ErrOut); err != nil {
			return err
		}
	}
	_, _ = t.ErrOut.Write(early.Bytes())
	return e.Err(t.Name)
}

// Detached reports whether the session was left running detached, its
// probes attached.
func (t *Tracer) Detached() bool { return t != nil && t.detached }
