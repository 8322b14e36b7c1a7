package session

import (
	"context"
	"errors"
	"io"

	corev1 "k8s.io/api/core/v1"

	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
	"github.com/trace-debug/kubectl-trace-debug/debug/kube"
)

// stopLine is the control message that ends a session the Ctrl-C way.
var stopLine = []byte(protocol.Stop + "\n")

// SendStop asks the session to stop through an attach of its own; a failure
// is reported, not returned (the session still ends at its deadline).
func (t *Tracer) SendStop(ctx context.Context) {
	if err := t.send(ctx, stopLine); err != nil {
		t.progress("%v", err)
	}
}

// send writes control lines to the session's stdin (see kube.SendControl).
func (t *Tracer) send(ctx context.Context, payload []byte) error {
	return t.SendControl(ctx, t.Pod, t.Name, payload)
}

// stopTail is how many lines of the log a stop reads back: the result line
// may have been written before the stop's log stream opened.
const stopTail = 10

// ErrEnded means a session to stop had already ended: its result line is
// in its log (its container may still be detaching probes) or it exited.
var ErrEnded = errors.New("the session has already ended")

// Stop asks the session to end the Ctrl-C way and waits until it has: its
// result line in the log (the maps are printed; the container may still be
// detaching probes), or the container's exit. A session that had already
// ended returns ErrEnded with its ending.
func (t *Tracer) Stop(ctx context.Context) (Exit, error) {
	if t.endedAlready(ctx) {
		return t.waitEnded(ctx)
	}
	if err := t.send(ctx, stopLine); err != nil {
		if t.endedAlready(ctx) { // it ended while the stop was on its way
			return t.waitEnded(ctx)
		}
		return Exit{}, err
	}
	// The runner ends within its stop grace (a kill after it): bounded, so
	// a wedged session cannot hold a stop until its deadline.
	followCtx, cancel := context.WithTimeout(ctx, kube.FinishTimeout)
	defer cancel()
	tail := int64(stopTail)
	if err := t.Logs(followCtx, &corev1.PodLogOptions{Follow: true, TailLines: &tail}, io.Discard); err != nil {
		t.progress("%v; waiting for the container's exit instead", err)
	}
	return t.Wait(ctx)
}

// waitEnded is the ending of a session that had ended already, with ErrEnded.
func (t *Tracer) waitEnded(ctx context.Context) (Exit, error) {
	e, err := t.Wait(ctx)
	if err == nil {
		err = ErrEnded
	}
	return e, err
}

// endedAlready reports whether the session's result line is at the end of
// its log, or its container has exited.
func (t *Tracer) endedAlready(ctx context.Context) bool {
	tail := int64(stopTail)
	if t.Logs(ctx, &corev1.PodLogOptions{TailLines: &tail}, io.Discard) == nil {
		if _, ok := t.result(); ok {
			return true
		}
	}
	st, err := t.ContainerState(ctx, t.Pod, t.Name)
	return err == nil && st.Terminated != nil
}
