package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/klog/v2"

	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
	"github.com/trace-debug/kubectl-trace-debug/debug/exit"
	"github.com/trace-debug/kubectl-trace-debug/debug/kube"
)

// retryPause is the pause between attempts to reach a session again after
// its stream broke.
const retryPause = time.Second

// Follow streams an attached session's output until it ends and returns
// its result. It attaches to the tracer's stdin, stdout and stderr and
// sends opening (hello; the runner starts tracing only then, so nothing is
// missed). The first Ctrl-C stops the trace (its maps follow), the second
// leaves. If the attach breaks (an API server or kubelet restart), the
// runner sees its stdin end (it is the client's, once) and stops the trace
// the Ctrl-C way; the client picks the rest of the output up from the
// session's log, without repeating what it showed.
func (t *Tracer) Follow(ctx context.Context, opening []byte) error {
	if t.State.Terminated != nil { // it ended before it could be attached
		if err := t.Logs(ctx, &corev1.PodLogOptions{}, t.ErrOut); err != nil {
			return err
		}
		return t.Finish(ctx)
	}
	t.progress("tracer %s running; Ctrl-C stops it and prints its maps", t.Name)
	ctl := newControl()
	shown := &tally{}
	err := t.Interact(ctx, false, ctl.requestStop, func(ctx context.Context) error {
		return t.stream(ctx, opening, ctl, shown.counting(t.Out), shown.counting(t.watcher(t.ErrOut)))
	})
	if _, ended := t.result(); err != nil && !errors.Is(err, ErrLeft) && !ended && ctx.Err() == nil {
		t.progress("output stream broke (%v); the tracer stops, its output follows from the session's log", err)
		err = t.Interact(ctx, false, func() {}, func(ctx context.Context) error { return t.resume(ctx, shown) })
	}
	if errors.Is(err, ErrLeft) {
		return exit.Codef(exit.Interrupted, "%w; the tracer %s stops by itself within %v", ErrLeft, t.Name, protocol.DefaultSession().IdleTimeout)
	}
	if err != nil {
		t.progress("output stream ended: %v", err)
	}
	return t.Finish(ctx)
}

// resume follows the session's log after its attach broke and prints what
// was not shown yet (see replay) up to the result line, retrying while the
// API is away. It gives up after kube.FinishTimeout without a working log
// stream.
func (t *Tracer) resume(ctx context.Context, shown *tally) error {
	var failingSince time.Time
	for {
		before := shown.seen()
		r := &replay{out: t.Out, errOut: t.ErrOut, skip: before, shown: shown}
		err := t.Logs(ctx, &corev1.PodLogOptions{Follow: true}, r)
		if _, ended := t.result(); ended || ctx.Err() != nil {
			return nil
		}
		if err == nil { // the log ended without the result line: a runner that died, or a cut stream
			if st, serr := t.ContainerState(ctx, t.Pod, t.Name); serr == nil && st.Terminated != nil {
				r = &replay{out: t.Out, errOut: t.ErrOut, skip: shown.seen(), shown: shown}
				return t.Logs(ctx, &corev1.PodLogOptions{}, r)
			}
		}
		if failingSince.IsZero() || shown.seen() != before {
			failingSince = time.Now()
		}
		if time.Since(failingSince) > kube.FinishTimeout {
			return fmt.Errorf("session %s: no output stream for %v: %w", t.Name, kube.FinishTimeout, err)
		}
		klog.V(2).InfoS("session log unavailable; retrying", "session", t.Name, "err", err)
		pause(ctx, retryPause)
	}
}

// pause sleeps for d or until ctx ends.
func pause(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// control is the client's half of an attached session's stdin: an opening
// (hello, and a program too large for the args), then a ping every
// protocol.PingInterval, and the stop line once asked.
type control struct {
	once sync.Once
	stop chan struct{}
}

// newControl returns a control with no stop asked yet.
func newControl() *control { return &control{stop: make(chan struct{})} }

// requestStop asks the session to stop.
func (c *control) requestStop() { c.once.Do(func() { close(c.stop) }) }

// feed writes opening, then pings and the stop line, to w until ctx ends or
// a write fails.
func (c *control) feed(ctx context.Context, w io.Writer, opening []byte) {
	if _, err := w.Write(opening); err != nil {
		return
	}
	tick := time.NewTicker(protocol.PingInterval)
	defer tick.Stop()
	stop := c.stop
	for {
		line := ""
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			line = protocol.Ping
		case <-stop:
			line, stop = protocol.Stop, nil
		}
		if _, err := io.WriteString(w, line+"\n"); err != nil {
			return
		}
	}
}

// stream attaches to the session with ctl feeding its stdin (opening
// first) and copies its stdout and stderr, until the attach ends or ctx
// does.
func (t *Tracer) stream(ctx context.Context, opening []byte, ctl *control, stdout, stderr io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	in, w := io.Pipe()
	defer w.Close()
	go ctl.feed(ctx, w, opening)
	opts := &corev1.PodAttachOptions{Container: t.Name, Stdin: true, Stdout: true, Stderr: true}
	if err := t.AttachStream(ctx, t.Pod, opts, remotecommand.StreamOptions{Stdin: in, Stdout: stdout, Stderr: stderr}); err != nil {
		return fmt.Errorf("attach to tracer %s: %w", t.Name, err)
	}
	return nil
}

// OpeningLines is what an attached client sends first: hello, and the
// program when it travels on stdin (nil program: it is in the args).
func OpeningLines(program []byte) []byte {
	return append([]byte(protocol.Hello+"\n"), program...)
}

// ProgramMessage is the control message that carries a program on stdin.
func ProgramMessage(program string) []byte {
	return []byte(fmt.Sprintf("%s %d\n%s", protocol.ProgramLine, len(program), program))
}
