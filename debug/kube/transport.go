package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/klog/v2"

	"github.com/trace-debug/kubectl-trace-debug/debug/exit"
)

// AttachStream attaches to a container of pod as opts says and copies the
// streams until the attach ends or ctx does, through c.Attach when set.
func (c Clients) AttachStream(ctx context.Context, pod string, opts *corev1.PodAttachOptions, streams remotecommand.StreamOptions) error {
	if c.Attach != nil {
		return c.Attach(ctx, c, pod, opts, streams)
	}
	exec, err := c.attacher(pod, opts)
	if err != nil {
		return err
	}
	return exec.StreamWithContext(ctx, streams)
}

// attacher returns kubectl's attach transport to a container of pod:
// WebSocket, falling back to SPDY on servers that do not upgrade to it.
func (c Clients) attacher(pod string, opts *corev1.PodAttachOptions) (remotecommand.Executor, error) {
	u := c.Client.CoreV1().RESTClient().Post().Resource("pods").Namespace(c.Namespace).Name(pod).
		SubResource("attach").VersionedParams(opts, scheme.ParameterCodec).URL()
	spdy, err := remotecommand.NewSPDYExecutor(c.RESTConfig, "POST", u)
	if err != nil {
		return nil, fmt.Errorf("create SPDY executor: %w", err)
	}
	ws, err := remotecommand.NewWebSocketExecutor(c.RESTConfig, "GET", u.String())
	if err != nil {
		return nil, fmt.Errorf("create WebSocket executor: %w", err)
	}
	return remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
}

// Logs opens a container's log as opts says, through c.LogStream when set.
func (c Clients) Logs(ctx context.Context, pod string, opts *corev1.PodLogOptions) (io.ReadCloser, error) {
	if c.LogStream != nil {
		return c.LogStream(ctx, c, pod, opts)
	}
	return c.Client.CoreV1().Pods(c.Namespace).GetLogs(pod, opts).Stream(ctx)
}

// ControlSendTimeout bounds the delivery of a control message.
const ControlSendTimeout = 30 * time.Second

// SendControl writes payload (control lines) to a container's stdin
// through an attach of its own (no pods/exec needed), then ends the
// attach. A session whose stdin outlives an attach (detached) keeps
// reading. It never hangs: a failed attach or no reader is an error.
func (c Clients) SendControl(ctx context.Context, pod, container string, payload []byte) error {
	attachCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	in, w := io.Pipe()
	defer w.Close()
	errc := make(chan error, 1)
	go func() {
		errc <- c.AttachStream(attachCtx, pod, &corev1.PodAttachOptions{Container: container, Stdin: true}, remotecommand.StreamOptions{Stdin: in})
	}()
	sent := make(chan error, 1)
	go func() { _, err := w.Write(payload); sent <- err }()
	select {
	case err := <-sent:
		if err != nil {
			return exit.Codef(exit.Internal, "send to session %s: %w", container, err)
		}
	case err := <-errc:
		if err == nil {
			err = errors.New("the stream closed before the message was read")
		}
		return exit.Fixf(exit.Internal, exit.Fix{Command: exit.List, Pod: pod}, "send to session %s: %w; it may have ended already", container, err)
	case <-time.After(ControlSendTimeout):
		return exit.Codef(exit.Timeout, "send to session %s: no answer from the attach stream in %v", container, ControlSendTimeout)
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
	case <-time.After(ControlSendTimeout):
		cancel()
		<-errc
		return exit.Codef(exit.Timeout, "send to session %s: the attach did not finish within %v; the message may not have arrived", container, ControlSendTimeout)
	case <-ctx.Done():
		return ctx.Err()
	}
}
