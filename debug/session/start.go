package session

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
	"github.com/trace-debug/kubectl-trace-debug/debug/exit"
	"github.com/trace-debug/kubectl-trace-debug/debug/kube"
	"github.com/trace-debug/kubectl-trace-debug/debug/pods"
	"github.com/trace-debug/kubectl-trace-debug/debug/progress"
)

// Request is what a new session is made of.
type Request struct {
	// Pod is the pod to trace, in the clients' namespace; Container its
	// container ("" picks the default one).
	Pod, Container string
	// Name is the session's name; "" picks one the pod does not use.
	Name string
	// Image is the runner image.
	Image string
	// Session is what the runner is told; Start fills in the target's
	// container ID, whether its pod shares one PID namespace, and NotAfter.
	Session protocol.Session
	// Program is the program's text when it travels on stdin (Session
	// then carries only its size and hash).
	Program string
	// StartTimeout bounds the wait for the tracer container to start.
	StartTimeout time.Duration
	// User is who starts the session; "" asks the API server.
	User string
	// ClientVersion is recorded in the tracer container.
	ClientVersion string
	// Checked says that preflight passed already (a group checks each
	// namespace once, before any pod).
	Checked bool
	// DryRun prints the patch that would add the tracer to Out, and sends
	// nothing.
	DryRun bool
	// Asserts are the session's assertions, kept in the tracer container
	// for the client that stops it.
	Asserts []string
	// Maps are a program's maps and their aggregations, kept there too
	// when the program goes on stdin (see pods.SessionInfo.Maps).
	Maps map[string]string
	// InGroup says the session is one pod's of a group, which prints the
	// session's name itself.
	InGroup bool
}

// onStdin is the program's control message when it travels on stdin.
func (r Request) onStdin() []byte {
	if r.Session.ProgramSize == 0 {
		return nil
	}
	return ProgramMessage(r.Program)
}

// Start checks the pod, injects the tracer and waits until it runs (or has
// already ended). A dry run prints the patch and returns a nil Tracer. The
// Tracer is returned with the error when the patch was sent.
func Start(ctx context.Context, c kube.Clients, req Request, s Streams) (*Tracer, error) {
	// Refusals come before anything is injected, so nothing is left behind.
	if !req.Checked {
		if err := c.Preflight(ctx); err != nil {
			return nil, err
		}
	}
	pod, err := c.Pod(ctx, req.Pod)
	if err != nil {
		return nil, err
	}
	container, err := pods.ChooseContainer(pod, req.Container)
	if err != nil {
		return nil, err
	}
	containerID, err := pods.CheckPod(pod, container)
	if err != nil {
		return nil, err
	}
	if warning := pods.SessionsWarning(pod); warning != "" {
		progress.Printf(s.ErrOut, "%s", warning)
	}
	name := req.Name
	if name == "" {
		name = pods.SessionName(pod)
	}
	user := req.User
	if user == "" {
		user = c.WhoAmI(ctx)
	}
	session := req.Session
	session.ContainerID, session.SharedPID = containerID, pods.SharesPIDNamespace(pod)
	session.NotAfter = time.Now().Add(session.Deadline).Truncate(time.Second) // over by then, however late it starts
	patch, err := pods.EphemeralContainerPatch(pods.EphemeralContainer(pods.TracerSpec{
		Name: name, Target: container, Image: req.Image, Session: session, User: user, ClientVersion: req.ClientVersion, Asserts: req.Asserts, Maps: req.Maps,
	}))
	if err != nil {
		return nil, err
	}
	if req.DryRun {
		fmt.Fprintf(s.Out, "%s\n", patch)
		progress.Printf(s.ErrOut, "dry run: this patch of pods/ephemeralcontainers would add tracer %s to pod %s; nothing was sent", name, pods.Ref(pod))
		return nil, nil
	}
	t := &Tracer{Clients: c, Streams: s, Pod: pod.Name, Name: name, Target: container}
	t.progress("starting tracer %s in pod %s, container %s (image %s)", name, pods.Ref(pod), container, req.Image)
	if _, err := c.Client.CoreV1().Pods(c.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "ephemeralcontainers"); err != nil {
		if ctx.Err() != nil {
			t.injected = true // sent, perhaps applied: say so
			return t, err
		}
		return nil, kube.InjectError(err, pod)
	}
	t.injected = true
	t.State, err = c.WatchContainer(ctx, pod.Name, name, kube.UntilStarted(name, req.StartTimeout, s.ErrOut))
	return t, err
}

// Trace runs a session in one pod: start, then follow it to its end (an
// attached session) or until its probes are attached (a detached one).
// Until the trace is followed, Ctrl-C and SIGTERM cancel whatever it waits
// for (preflight, the API, the image pull, the start) and the error says
// what was left in the pod. It returns the Tracer (nil for a dry run or
// when nothing was injected) and the session's result.
func Trace(ctx context.Context, c kube.Clients, req Request, s Streams) (*Tracer, error) {
	waitCtx, release := Interruptible(ctx, s.Interrupts)
	defer release()
	t, err := Start(waitCtx, c, req, s)
	if Interrupted(waitCtx) {
		left, fix := t.leftBehind(req)
		return t, InterruptedError("starting the trace", left, fix)
	}
	if err != nil || t == nil {
		return t, err
	}
	if !req.Session.Attached {
		err := t.Detach(waitCtx, req.onStdin(), !req.InGroup)
		if Interrupted(waitCtx) {
			left, fix := t.leftBehind(req)
			return t, InterruptedError("waiting for the probes to be attached", left, fix)
		}
		return t, err
	}
	release() // the session reads the signals: first Ctrl-C stops, second leaves
	return t, t.Follow(ctx, OpeningLines(req.onStdin()))
}

// leftBehind says what an interrupted start left in the pod, when it ends
// by itself, and how the user ends it sooner.
func (t *Tracer) leftBehind(req Request) (string, *exit.Fix) {
	if t == nil || !t.injected {
		return "nothing was added to the pod", nil
	}
	where := fmt.Sprintf("tracer %s was added to pod %s/%s", t.Name, t.Namespace, t.Pod)
	if t.stopped {
		return where + " and has been stopped", nil
	}
	if !req.Session.Attached {
		return where + " and runs detached", &exit.Fix{Command: exit.Stop, Pod: t.Pod, Session: t.Name,
			Detached: true, Deadline: req.Session.Deadline, Duration: req.Session.Duration}
	}
	return fmt.Sprintf("%s; with no client it does not start tracing, and it exits by itself within %v of starting",
		where, protocol.DefaultSession().HelloTimeout), nil
}

// Injected reports whether the tracer was added to its pod.
func (t *Tracer) Injected() bool { return t != nil && t.injected }
