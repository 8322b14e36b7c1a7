package kubetest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/remotecommand"

	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
	"github.com/trace-debug/kubectl-trace-debug/debug/kube"
)

// Runner plays one tracer's runner: what it has written (its log), what
// it was sent, and its state.
type Runner struct {
	cluster          *Cluster
	ns, pod, name    string
	script           Script
	mu               sync.Mutex
	log              []Line
	received         []string
	started, stopped bool
	exited           bool
	// awaitProgram is set for a session whose program comes on stdin:
	// tracing starts once hello (none for a detached session) and the
	// program have both come.
	awaitProgram, hello, detached bool
	changed                       chan struct{} // closed at each change of log or state
}

// Received are the control lines the runner was sent, hello and pings
// left out.
func (r *Runner) Received() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.received...)
}

// Exited reports whether the runner's container has exited.
func (r *Runner) Exited() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.exited
}

// Name is the session's name.
func (r *Runner) Name() string { return r.name }

// notify wakes the log followers; r.mu is held.
func (r *Runner) notify() {
	close(r.changed)
	r.changed = make(chan struct{})
}

// write adds lines to the log and, when given, to the attached streams.
func (r *Runner) write(lines []Line, stdout, stderr io.Writer) {
	for _, l := range lines {
		r.mu.Lock()
		r.log = append(r.log, l)
		r.notify()
		r.mu.Unlock()
		w := stdout
		if l.Stderr {
			w = stderr
		}
		if w != nil {
			_, _ = io.WriteString(w, l.Text+"\n")
		}
	}
}

// start writes the script's lines, once.
func (r *Runner) start(stdout, stderr io.Writer) {
	r.mu.Lock()
	started := r.started
	r.started = true
	r.mu.Unlock()
	if started {
		return
	}
	r.write(r.script.Lines, stdout, stderr)
	if r.script.ExitAfterLines {
		r.exit()
	}
}

// stop writes the script's stop lines and exits, once (never, wedged).
func (r *Runner) stop(stdout, stderr io.Writer) {
	r.mu.Lock()
	done := r.stopped || r.exited || r.script.IgnoreStop
	r.stopped = true
	r.mu.Unlock()
	if done {
		return
	}
	r.write(r.script.OnStop, stdout, stderr)
	r.exit()
}

// exit ends the runner's container with the script's exit code.
func (r *Runner) exit() {
	r.mu.Lock()
	if r.exited {
		r.mu.Unlock()
		return
	}
	r.exited = true
	r.notify()
	r.mu.Unlock()
	obj, err := r.cluster.Client.Tracker().Get(podsResource, r.ns, r.pod)
	if err != nil {
		return
	}
	pod := obj.(*corev1.Pod).DeepCopy()
	for i, st := range pod.Status.EphemeralContainerStatuses {
		if st.Name == r.name {
			pod.Status.EphemeralContainerStatuses[i].State = exitState(r.script.ExitCode)
		}
	}
	_ = r.cluster.Client.Tracker().Update(podsResource, pod, r.ns)
}

// receive notes a control message and acts on it.
func (r *Runner) receive(m message, stdout, stderr io.Writer) {
	r.mu.Lock()
	switch {
	case m.line == protocol.Hello:
		r.hello = true
	case m.line == protocol.Ping:
	case m.program != nil:
		r.received = append(r.received, m.line, *m.program)
		r.awaitProgram = false
	default:
		r.received = append(r.received, m.line)
	}
	start := (r.hello || r.detached && m.program != nil) && !r.awaitProgram
	r.mu.Unlock()
	if start {
		r.start(stdout, stderr)
	}
	if m.line == protocol.Stop {
		r.stop(stdout, stderr)
	}
}

// message is a control message: a line, or a program line with the
// program that follows it.
type message struct {
	line    string
	program *string
}

// readMessages reads control messages from in until it ends or ctx does.
func readMessages(ctx context.Context, in io.Reader, out chan<- message) {
	defer close(out)
	br := bufio.NewReader(in)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		m := message{line: strings.TrimSuffix(line, "\n")}
		if n, ok := strings.CutPrefix(m.line, protocol.ProgramLine+" "); ok {
			size, _ := strconv.Atoi(n)
			b := make([]byte, size)
			if _, err := io.ReadFull(br, b); err != nil {
				return
			}
			program := string(b)
			m.program = &program
		}
		select {
		case out <- m:
		case <-ctx.Done():
			return
		}
	}
}

// errNoContainer is the attach's answer for a container that does not run.
var errNoContainer = errors.New("kubetest: container not found or not running")

// attach is the fake attach transport: a control attach (stdin only)
// delivers its lines; the client's attach (stdin, stdout and stderr) plays
// the session as the script says until it ends or the client goes.
func (c *Cluster) attach(ctx context.Context, k kube.Clients, pod string, opts *corev1.PodAttachOptions, streams remotecommand.StreamOptions) error {
	r := c.Runner(k.Namespace, pod, opts.Container)
	if r == nil || r.Exited() {
		return errNoContainer
	}
	if r.script.Unreachable != nil {
		return r.script.Unreachable
	}
	lines := make(chan message)
	go readMessages(ctx, streams.Stdin, lines)
	if !opts.Stdout {
		for {
			select {
			case line, ok := <-lines:
				if !ok {
					return nil
				}
				r.receive(line, nil, nil)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	for {
		select {
		case line, ok := <-lines:
			if !ok { // the client's stdin ended: the runner stops
				r.stop(nil, nil)
				return nil
			}
			r.receive(line, streams.Stdout, streams.Stderr)
			switch {
			case line.line == protocol.Hello && r.script.Break != nil:
				go r.stop(nil, nil)
				return r.script.Break
			case r.Exited():
				return nil
			}
		case <-ctx.Done(): // the client left
			go r.stop(nil, nil)
			return ctx.Err()
		}
	}
}

// logStream is the fake log transport: the runner's log (its last
// TailLines lines), followed until the container exits.
func (c *Cluster) logStream(ctx context.Context, k kube.Clients, pod string, opts *corev1.PodLogOptions) (io.ReadCloser, error) {
	r := c.Runner(k.Namespace, pod, opts.Container)
	if r == nil {
		return nil, fmt.Errorf("kubetest: no container %s in pod %s/%s", opts.Container, k.Namespace, pod)
	}
	if r.script.Unreachable != nil {
		return nil, r.script.Unreachable
	}
	pr, pw := io.Pipe()
	go func() {
		r.mu.Lock()
		pos := 0
		if opts.TailLines != nil && int(*opts.TailLines) < len(r.log) {
			pos = len(r.log) - int(*opts.TailLines)
		}
		r.mu.Unlock()
		for {
			r.mu.Lock()
			lines, exited, changed := r.log[pos:], r.exited, r.changed
			pos = len(r.log)
			r.mu.Unlock()
			for _, l := range lines {
				if _, err := io.WriteString(pw, l.Text+"\n"); err != nil {
					return
				}
			}
			if !opts.Follow || exited {
				pw.Close()
				return
			}
			select {
			case <-changed:
			case <-ctx.Done():
				pw.CloseWithError(ctx.Err())
				return
			}
		}
	}()
	return pr, nil
}
