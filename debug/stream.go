package debug

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/klog/v2"

	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
)

// errLeft means the user left before the trace ended (second Ctrl-C).
var errLeft = errors.New("left the session before the trace ended")

// follow streams the tracer's output until it exits and returns its result.
func (s *tracerSession) follow(ctx context.Context) error {
	o := s.o
	if s.state.Terminated == nil {
		o.progress("tracer %s running; Ctrl-C stops it and prints its maps", s.name)
		err := s.attach(ctx)
		if errors.Is(err, errLeft) {
			return codef(ExitInterrupted, "%s; the tracer %s stops by itself within %v", errLeft, s.name, protocol.DefaultSession().IdleTimeout)
		}
		if err != nil {
			o.progress("output stream ended: %v", err)
		}
		// The runner's result line ends a complete output; the container
		// may still be detaching the tracer's probes.
		if code, ok := s.result(); ok && err == nil {
			return exitResult(s.name, code, "")
		}
	} else if err := s.copyLogs(ctx); err != nil {
		return err
	}
	// The stream has ended; Ctrl-C now interrupts the wait for the status.
	waitCtx, release := interruptible(ctx, o.Interrupts)
	defer release()
	st, err := o.watchTracer(waitCtx, o.PodName, s.name, untilTerminated())
	if interrupted(waitCtx) {
		return interruptedError("waiting for the tracer's exit status", fmt.Sprintf("tracer %s was stopping; it ends by itself", s.name))
	}
	if err != nil {
		return err
	}
	return tracerResult(s.name, st.Terminated)
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

// attach connects to the tracer's stdin, stdout and stderr, says hello (the
// runner starts the tracer only then, so no output is missed), keeps the
// session alive with pings and turns the first interrupt into a graceful
// stop. A second interrupt leaves at once and returns errLeft.
func (s *tracerSession) attach(ctx context.Context) error {
	o := s.o
	exec, err := o.attacher(o.PodName, &corev1.PodAttachOptions{Container: s.name, Stdin: true, Stdout: true, Stderr: true})
	if err != nil {
		return err
	}
	streamCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	stdinR, stdinW := io.Pipe()
	defer stdinW.Close()
	left := make(chan struct{})
	go s.control(streamCtx, stdinW, cancel, left)
	err = exec.StreamWithContext(streamCtx, remotecommand.StreamOptions{Stdin: stdinR, Stdout: o.Out, Stderr: s.readyStderr()})
	select {
	case <-left:
		return errLeft
	default:
	}
	if err != nil {
		return fmt.Errorf("attach to tracer %s: %w", s.name, err)
	}
	return nil
}

// readyStderr is the tracer's stderr, watched for the runner's ready line,
// which writes --ready-file.
func (s *tracerSession) readyStderr() io.Writer {
	return &readyWatcher{w: s.o.ErrOut, onReady: func() {
		if s.o.ReadyFile == "" {
			return
		}
		if err := writeReadyFile(s.o.ReadyFile, s.name); err != nil {
			s.o.progress("%v", err)
		}
	}, onResult: s.setResult}
}

// control writes the runner's control lines: hello, then a ping every
// protocol.PingInterval and a stop on the first interrupt; on the second it
// closes left and cancels the stream.
func (s *tracerSession) control(ctx context.Context, w io.Writer, cancel func(), left chan struct{}) {
	send := func(line string) { _, _ = io.WriteString(w, line+"\n") }
	send(protocol.Hello)
	if s.o.programOnStdin() {
		_, _ = w.Write(programMessage(s.o.Program))
	}
	tick := time.NewTicker(protocol.PingInterval)
	defer tick.Stop()
	interrupts := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			send(protocol.Ping)
		case <-s.o.Interrupts:
			interrupts++
			if interrupts == 1 {
				s.o.progress("stopping the trace; its maps follow (Ctrl-C again to leave at once)")
				send(protocol.Stop)
				continue
			}
			close(left)
			cancel()
			return
		}
	}
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

// copyLogs prints the output of a tracer that ended before it could be attached.
func (s *tracerSession) copyLogs(ctx context.Context) error {
	o := s.o
	rc, err := o.Client.CoreV1().Pods(o.Namespace).GetLogs(o.PodName, &corev1.PodLogOptions{Container: s.name}).Stream(ctx)
	if err != nil {
		return apiError(err, "read tracer "+s.name+" logs", "")
	}
	defer rc.Close()
	_, err = io.Copy(o.ErrOut, rc)
	return err
}
