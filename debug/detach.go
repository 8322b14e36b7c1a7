package debug

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
)

// detach prints the session's name on stdout at once, then follows the
// tracer's log until its probes are attached and returns, leaving the trace
// running until its --duration, its --deadline or `stop`. A tracer that ends
// before that gets its output printed and its exit code returned, as an
// attached one. If the client fails or is interrupted before the probes are
// attached, it stops the tracer rather than leave it running unwatched.
func (s *tracerSession) detach(ctx context.Context) (err error) {
	o := s.o
	fmt.Fprintln(o.Out, s.name)
	var early bytes.Buffer
	ready := false
	defer func() {
		if err != nil && !ready && s.state.Terminated == nil {
			stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
			defer cancel()
			if o.sendControl(stopCtx, o.PodName, s.name, []byte(protocol.Stop+"\n")) == nil {
				s.stopped = true
			}
		}
	}()
	if s.state.Terminated == nil && o.programOnStdin() {
		if err := o.sendControl(ctx, o.PodName, s.name, programMessage(o.Program)); err != nil {
			return err
		}
	}
	if s.state.Terminated == nil {
		logCtx, cancel := context.WithCancel(ctx)
		defer cancel()
		rc, err := o.Client.CoreV1().Pods(o.Namespace).GetLogs(o.PodName, &corev1.PodLogOptions{Container: s.name, Follow: true}).Stream(logCtx)
		if err != nil {
			return apiError(err, "follow tracer "+s.name+" log", "")
		}
		_, _ = io.Copy(&readyWatcher{w: &early, onReady: func() { ready = true; cancel() }}, rc)
		rc.Close()
	}
	if ready {
		if o.ReadyFile != "" {
			if err := writeReadyFile(o.ReadyFile, s.name); err != nil {
				return err
			}
		}
		o.progress("tracer %s runs detached until its deadline (%v)%s; follow it with `kubectl trace-debug logs -f pod/%s %s`, end it with `kubectl trace-debug stop pod/%s %s`",
			s.name, o.Deadline, durationNote(o), o.PodName, s.name, o.PodName, s.name)
		return nil
	}
	// It ended before its probes were attached: show why.
	st, err := o.watchTracer(ctx, o.PodName, s.name, untilTerminated())
	if err != nil {
		return err
	}
	if early.Len() == 0 {
		if err := s.copyLogs(ctx); err != nil {
			return err
		}
	}
	_, _ = o.ErrOut.Write(early.Bytes())
	return tracerResult(s.name, st.Terminated)
}

func durationNote(o *TraceOptions) string {
	if o.Duration > 0 {
		return fmt.Sprintf(" or for --duration %v", o.Duration)
	}
	return ""
}
