package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	corev1 "k8s.io/api/core/v1"

	"github.com/trace-debug/kubectl-trace-debug/debug/exit"
	"github.com/trace-debug/kubectl-trace-debug/debug/kube"
	"github.com/trace-debug/kubectl-trace-debug/debug/pods"
	"github.com/trace-debug/kubectl-trace-debug/debug/progress"
)

// Streams are where a session's output goes and whence the user's signals
// come.
type Streams struct {
	// Out receives the program's output, ErrOut the runner's lines and the
	// client's progress.
	Out, ErrOut io.Writer
	// Interrupts delivers the user's Ctrl-C (SIGINT) and SIGTERM.
	Interrupts <-chan os.Signal
	// OnReady runs once, with the session's name, when the runner's ready
	// line (probes attached) goes by in any of the session's streams.
	OnReady func(session string)
}

// Tracer is one trace session in one pod, and the one type behind every
// command that touches a session: the trace itself (attached or detached),
// attach, logs and stop. It owns the session's one Ctrl-C state machine
// (Interact), its one stop, its one log stream (Logs) and its one wait for
// the result (Wait).
type Tracer struct {
	kube.Clients
	Streams
	// Pod and Name say where the session is: its pod and its container;
	// Target is the container it traces (known to a session this client
	// started).
	Pod, Name, Target string
	// State is the container's state when the client found it.
	State corev1.ContainerState
	// Info is the session as its pod describes it, when the client found
	// it there (see FromPod).
	Info pods.SessionInfo

	// injected is true once the patch that adds the tracer was sent;
	// stopped once the client stopped it (a detached start that failed);
	// detached once a detached session's probes are attached.
	injected, stopped, detached bool
	// presses counts the user's interrupts over every phase of the session.
	presses int

	mu sync.Mutex
	// code is the exit code of the runner's result line; hasCode says
	// whether it came; program is the program's own exit(N) it gives.
	code, program int
	hasCode       bool
	ready         sync.Once
}

// FromPod is the session name of pod, in the state the pod reports.
func FromPod(c kube.Clients, pod *corev1.Pod, name string, s Streams) *Tracer {
	st, _ := pods.ContainerState(pod, name)
	info, _ := pods.FindSession(pod, name)
	return &Tracer{Clients: c.In(pod.Namespace), Streams: s, Pod: pod.Name, Name: name, State: st, Info: info}
}

// Find reads pod and returns its session name.
func Find(ctx context.Context, c kube.Clients, pod, name string, s Streams) (*Tracer, error) {
	p, err := c.Pod(ctx, pod)
	if err != nil {
		return nil, err
	}
	if _, ok := pods.FindSession(p, name); !ok {
		return nil, exit.Fixf(exit.TargetNotFound, exit.Fix{Command: exit.List, Pod: p.Name}, "find session: pod %s has no session %q", pods.Ref(p), name)
	}
	return FromPod(c, p, name, s), nil
}

// ErrLeft means the user left before the trace ended (second Ctrl-C).
var ErrLeft = errors.New("left the session before the trace ended")

// setResult records the exit code of the runner's result line (and the
// program's own exit code it gives, or 0).
func (t *Tracer) setResult(code, program int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.code, t.program, t.hasCode = code, program, true
}

// result is how the runner's result line says the session ended, if it came.
func (t *Tracer) result() (Exit, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return Exit{code: t.code, program: t.program}, t.hasCode
}

// watcher passes w through, noting the runner's ready and result lines.
func (t *Tracer) watcher(w io.Writer) *readyWatcher {
	return &readyWatcher{w: w, onResult: t.setResult, onReady: func() {
		if t.OnReady != nil {
			t.ready.Do(func() { t.OnReady(t.Name) })
		}
	}}
}

// progress prints a line about what the command is doing to stderr.
func (t *Tracer) progress(format string, a ...any) { progress.Printf(t.ErrOut, format, a...) }

// Exit is how a session ended: the exit code of its result line, or, when
// none came, its container's termination.
type Exit struct {
	code, program int // program: the program's own exit(N), for protocol.ExitProgramExit
	terminated    *corev1.ContainerStateTerminated
}

// ExitCode is the session's exit code.
func (e Exit) ExitCode() int {
	if e.terminated != nil {
		return int(e.terminated.ExitCode)
	}
	return e.code
}

// Err turns the ending into the command's result.
func (e Exit) Err(name string) error {
	if e.terminated != nil {
		return tracerResult(name, e.terminated)
	}
	return exitResult(name, e.code, e.program, "")
}

// Wait returns how the session ended: at once when its result line came
// (the output is complete), else once its container has exited. Ctrl-C or
// SIGTERM interrupts the wait.
func (t *Tracer) Wait(ctx context.Context) (Exit, error) {
	if e, ok := t.result(); ok {
		return e, nil
	}
	var st corev1.ContainerState
	err := WhileInterruptible(ctx, t.Interrupts, "waiting for the session's exit status", fmt.Sprintf("session %s was ending; it ends by itself", t.Name),
		func(ctx context.Context) (err error) {
			st, err = t.WatchContainer(ctx, t.Pod, t.Name, kube.UntilTerminated())
			return err
		})
	if err != nil {
		return Exit{}, err
	}
	return Exit{terminated: st.Terminated}, nil
}

// Finish waits for the session's end and turns it into the command's result.
func (t *Tracer) Finish(ctx context.Context) error {
	e, err := t.Wait(ctx)
	if err != nil {
		return err
	}
	return e.Err(t.Name)
}
