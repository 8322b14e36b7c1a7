package debug

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/klog/v2"

	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
)

// follow streams an attached session's output until it ends and returns its
// result. It attaches to the tracer's stdin, stdout and stderr and says
// hello (the runner starts tracing only then, so nothing is missed). The
// first Ctrl-C stops the trace (its maps follow), the second leaves. If the
// attach breaks (an API server or kubelet restart), the runner sees its
// stdin end (it is the client's, once) and stops the trace the Ctrl-C way;
// the client picks the rest of the output up from the session's log,
// without repeating what it showed.
func (t *tracer) follow(ctx context.Context, opening []byte) error {
	if t.state.Terminated != nil { // it ended before it could be attached
		if err := t.logs(ctx, &corev1.PodLogOptions{}, t.errOut); err != nil {
			return err
		}
		return t.finish(ctx)
	}
	t.progress("tracer %s running; Ctrl-C stops it and prints its maps", t.name)
	ctl := newControl()
	shown := &tally{}
	err := t.interact(ctx, false, ctl.requestStop, func(ctx context.Context) error {
		return t.stream(ctx, opening, ctl, shown.counting(t.out), shown.counting(t.watcher(t.errOut)))
	})
	if _, ended := t.result(); err != nil && !errors.Is(err, errLeft) && !ended && ctx.Err() == nil {
		t.progress("output stream broke (%v); the tracer stops, its output follows from the session's log", err)
		err = t.interact(ctx, false, func() {}, func(ctx context.Context) error { return t.resume(ctx, shown) })
	}
	if errors.Is(err, errLeft) {
		return t.leftError(fmt.Sprintf("the tracer %s stops by itself within %v", t.name, protocol.DefaultSession().IdleTimeout))
	}
	if err != nil {
		t.progress("output stream ended: %v", err)
	}
	return t.finish(ctx)
}

// resume follows the session's log after its attach broke and prints what
// was not shown yet (see replay) up to the result line, retrying while the
// API is away. It gives up after finishTimeout without a working log
// stream.
func (t *tracer) resume(ctx context.Context, shown *tally) error {
	var failingSince time.Time
	for {
		before := shown.seen()
		r := &replay{out: t.out, errOut: t.errOut, skip: before, shown: shown}
		err := t.logs(ctx, &corev1.PodLogOptions{Follow: true}, r)
		if _, ended := t.result(); ended || ctx.Err() != nil {
			return nil
		}
		if err == nil { // the log ended without the result line: a runner that died, or a cut stream
			if st, serr := t.currentState(ctx); serr == nil && st.Terminated != nil {
				r = &replay{out: t.out, errOut: t.errOut, skip: shown.seen(), shown: shown}
				return t.logs(ctx, &corev1.PodLogOptions{}, r)
			}
		}
		if failingSince.IsZero() || shown.seen() != before {
			failingSince = time.Now()
		}
		if time.Since(failingSince) > finishTimeout {
			return fmt.Errorf("session %s: no output stream for %v: %w", t.name, finishTimeout, err)
		}
		klog.V(2).InfoS("session log unavailable; retrying", "session", t.name, "err", err)
		pause(ctx, retryPause)
	}
}

// currentState reads the session container's state now.
func (t *tracer) currentState(ctx context.Context) (corev1.ContainerState, error) {
	pod, err := t.Client.CoreV1().Pods(t.Namespace).Get(ctx, t.pod, metav1.GetOptions{})
	if err != nil {
		return corev1.ContainerState{}, err
	}
	st, _ := containerState(pod, t.name)
	return st, nil
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
func (t *tracer) stream(ctx context.Context, opening []byte, ctl *control, stdout, stderr io.Writer) error {
	exec, err := t.attacher(t.pod, &corev1.PodAttachOptions{Container: t.name, Stdin: true, Stdout: true, Stderr: true})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	in, w := io.Pipe()
	defer w.Close()
	go ctl.feed(ctx, w, opening)
	if err := exec.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: in, Stdout: stdout, Stderr: stderr}); err != nil {
		return fmt.Errorf("attach to tracer %s: %w", t.name, err)
	}
	return nil
}

// openingLines is what an attached client sends first: hello, and the
// program when it travels on stdin (nil program: it is in the args).
func openingLines(program []byte) []byte {
	return append([]byte(protocol.Hello+"\n"), program...)
}

// controlSendTimeout bounds the delivery of a control message.
const controlSendTimeout = 30 * time.Second

// sendControl writes payload (control lines) to a tracer's stdin through an
// attach of its own (no pods/exec needed), then ends the attach. A session
// whose stdin outlives an attach (detached) keeps reading. It never hangs:
// a failed attach or no reader is an error.
func (k kube) sendControl(ctx context.Context, pod, container string, payload []byte) error {
	exec, err := k.attacher(pod, &corev1.PodAttachOptions{Container: container, Stdin: true})
	if err != nil {
		return err
	}
	attachCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	in, w := io.Pipe()
	defer w.Close()
	errc := make(chan error, 1)
	go func() { errc <- exec.StreamWithContext(attachCtx, remotecommand.StreamOptions{Stdin: in}) }()
	sent := make(chan error, 1)
	go func() { _, err := w.Write(payload); sent <- err }()
	select {
	case err := <-sent:
		if err != nil {
			return codef(ExitInternal, "send to session %s: %w", container, err)
		}
	case err := <-errc:
		if err == nil {
			err = errors.New("the stream closed before the message was read")
		}
		return codef(ExitInternal, "send to session %s: %w; it may have ended already (see `kubectl trace-debug list pod/%s`)", container, err, pod)
	case <-time.After(controlSendTimeout):
		return codef(ExitTimeout, "send to session %s: no answer from the attach stream in %v", container, controlSendTimeout)
	case <-ctx.Done():
		return ctx.Err()
	}
	// The bytes have left this process but may still be on their way
	// through the API server and the kubelet: end stdin and let the attach
	// finish by itself. Cutting it short loses the tail of a large payload.
	w.Close()
	select {
	case err := <-errc:
		// An error here is the stream's teardown (a stopped session's
		// container exits under it); the bytes were handed over before it.
		klog.V(4).InfoS("control attach ended", "session", container, "err", err)
		return nil
	case <-time.After(controlSendTimeout):
		cancel()
		<-errc
		return codef(ExitTimeout, "send to session %s: the attach did not finish within %v; the message may not have arrived", container, controlSendTimeout)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// programMessage is the control message that carries a program on stdin.
func programMessage(program string) []byte {
	return []byte(fmt.Sprintf("%s %d\n%s", protocol.ProgramLine, len(program), program))
}

// attacher returns kubectl's attach transport to a container of pod:
// WebSocket, falling back to SPDY on servers that do not upgrade to it.
func (k kube) attacher(pod string, opts *corev1.PodAttachOptions) (remotecommand.Executor, error) {
	u := k.Client.CoreV1().RESTClient().Post().Resource("pods").Namespace(k.Namespace).Name(pod).
		SubResource("attach").VersionedParams(opts, scheme.ParameterCodec).URL()
	spdy, err := remotecommand.NewSPDYExecutor(k.RESTConfig, "POST", u)
	if err != nil {
		return nil, fmt.Errorf("create SPDY executor: %w", err)
	}
	ws, err := remotecommand.NewWebSocketExecutor(k.RESTConfig, "GET", u.String())
	if err != nil {
		return nil, fmt.Errorf("create WebSocket executor: %w", err)
	}
	return remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
}
