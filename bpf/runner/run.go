package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"syscall"
	"time"

	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
)

// Options are the runner's inputs.
type Options struct {
	// Session is what the client asked for.
	Session protocol.Session
	// Stdin carries the client's control lines (attached sessions).
	Stdin io.Reader
	// Stdout and Stderr receive the tracer's output, and the runner's own
	// messages (on Stderr).
	Stdout, Stderr io.Writer
	// Kernel locates the tracing interfaces.
	Kernel Kernel
	// ProcRoot is normally /proc.
	ProcRoot string
	// Tracer is the bpftrace binary.
	Tracer string
	// TracerVersion is Tracer's version when the image records it
	// (TRACE_DEBUG_BPFTRACE_VERSION, read from the binary when the image was
	// built); empty, the runner asks the binary.
	TracerVersion string
	// StopGrace is how long the tracer has to print its maps after it is
	// asked to stop, before it is killed (bpftrace without a dump probe gets
	// PerProbeGrace more per probe).
	StopGrace time.Duration
	// CloseOutput, when set, closes Stdout and Stderr once the result line
	// is written, so an attached client's stream ends with the output
	// complete while the tracer's probes are still being detached.
	CloseOutput func()
	// MemoryPID is the process whose cgroup bounds the tracer's memory;
	// 0 means the runner's own.
	MemoryPID int

	end time.Time // when the session must be over (sessionEnd)
}

// Run carries out one session and returns the container's exit code: the
// tracer's own, or one of protocol's Exit codes. Once the trace's output is
// complete it writes protocol.ResultLine and calls CloseOutput, then waits
// for the tracer to be gone. ctx's cancellation (SIGINT/SIGTERM to the
// runner) stops the trace the Ctrl-C way.
func Run(ctx context.Context, o Options) int {
	code, tr := o.run(ctx)
	line := protocol.ResultLine(code)
	if p, ok := tr.(interface{ ProgramExit() int }); ok && code == protocol.ExitProgramExit {
		line = protocol.ProgramResultLine(p.ProgramExit())
	}
	fmt.Fprintln(o.Stderr, line)
	if o.CloseOutput != nil {
		o.CloseOutput()
	}
	if tr != nil {
		tr.Close()
	}
	return code
}

// run is Run's lifecycle, up to the exit code; the trace, if one started, is
// left for the caller to close.
func (o Options) run(ctx context.Context) (int, Trace) {
	ctx, cancelControl := context.WithCancel(ctx)
	defer cancelControl()
	end, note := sessionEnd(o.Session, time.Now())
	if note != "" {
		o.say("%s", note)
	}
	if !end.After(time.Now()) {
		o.say("the session's deadline (%s) has passed; not starting the tracer", end.Format(time.RFC3339))
		return protocol.ExitExpired, nil
	}
	waitCtx, cancelEnd := context.WithDeadline(ctx, end) // bounds the waits for the client
	defer cancelEnd()
	o.end = end
	control := readControl(ctx, o.Stdin)
	features := o.detectFeatures() // while the client connects
	// A program in the args starts at once, its output held until the
	// client is there: the kernel, the target and bpftrace's own start
	// (half a second and more) overlap the client's attach.
	early := o.Session.Attached && o.Session.ProgramSize == 0
	var gates []*gate
	if early {
		stdout, stderr := newGate(o.Stdout), newGate(o.Stderr)
		o.Stdout, o.Stderr, gates = stdout, stderr, []*gate{stdout, stderr}
	} else {
		if o.Session.Attached {
			if err := awaitHello(waitCtx, control, o.Session.HelloTimeout); err != nil {
				o.say("%v; not starting the tracer", err)
				return protocol.ExitNoClient, nil
			}
		}
		if o.Session.ProgramSize > 0 {
			program, err := awaitProgram(waitCtx, control, o.Session)
			if err != nil {
				o.say("%v; not starting the tracer", err)
				return protocol.ExitNoClient, nil
			}
			o.Session.Program = program
		}
	}
	code, tr := o.start(ctx, features)
	if early {
		if err := awaitHello(waitCtx, control, o.Session.HelloTimeout); err != nil {
			for _, g := range gates {
				g.Discard() // as if it had never started: no output without a client
			}
			if tr != nil {
				tr.Kill()
				<-tr.Done()
			}
			o.Stdout, o.Stderr = gates[0].w, gates[1].w
			o.say("%v; the tracer it started is stopped, its output dropped", err)
			return protocol.ExitNoClient, tr
		}
		for _, g := range gates {
			g.Open()
		}
	}
	if tr == nil {
		return code, nil
	}
	o.supervise(ctx, control, tr)
	return tr.ExitCode(), tr
}

// start prepares the kernel side, finds the target, checks memory and
// starts the engine: the running trace, or the exit code of what failed
// (the runner has said why).
func (o Options) start(ctx context.Context, features <-chan Features) (int, Trace) {
	engine := o.newEngine(features)
	env, err := o.prepareKernel(engine.NeedsKernelTypes())
	if err != nil {
		o.say("%v", err)
		return protocol.ExitKernelUnsupported, nil
	}
	pid, err := FindTargetPID(o.ProcRoot, o.Session.ContainerID, o.Session.SharedPID)
	if err != nil {
		o.say("find the target container's process: %v", err)
		return protocol.ExitTargetNotFound, nil
	}
	if err := o.checkMemory(engine.PeakMemory()); err != nil {
		o.say("%v", err)
		return protocol.ExitMemory, nil
	}
	tr, err := engine.Start(ctx, Target{PID: pid, ProcRoot: o.ProcRoot, Env: env})
	if err != nil {
		o.say("%v", err)
		return failureCode(err), nil
	}
	return 0, tr
}

// sessionEnd is when the session must be over: its Deadline from now, or
// the client's NotAfter when that is sooner. A NotAfter so far in the past
// that the clocks must disagree is ignored, with a note.
func sessionEnd(s protocol.Session, now time.Time) (time.Time, string) {
	end := now.Add(s.Deadline)
	switch {
	case s.NotAfter.IsZero() || !s.NotAfter.Before(end):
		return end, ""
	case now.Sub(s.NotAfter) > s.Deadline:
		return end, fmt.Sprintf("the client's deadline %s is more than %v ago: the clocks disagree; ending %v from now", s.NotAfter.Format(time.RFC3339), s.Deadline, s.Deadline)
	}
	return s.NotAfter, ""
}

// say writes one of the runner's own messages to stderr.
func (o Options) say(format string, a ...any) {
	fmt.Fprintf(o.Stderr, protocol.RunnerPrefix+format+"\n", a...)
}

// prepareKernel mounts the tracing filesystems, lifts the memlock limit
// (the one place the runner does) and, when the engine needs them, finds
// the kernel's types.
func (o Options) prepareKernel(needTypes bool) ([]string, error) {
	if err := o.Kernel.MountTracing(); err != nil {
		return nil, err
	}
	RaiseMemlock()
	if !needTypes {
		return nil, nil
	}
	env, _, err := o.Kernel.TypeSource()
	return env, err
}

// errNoClient means an attached session's client never said hello.
var errNoClient = errors.New("no client attached")

func awaitHello(ctx context.Context, control <-chan controlMsg, timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case msg, ok := <-control:
			if !ok {
				return fmt.Errorf("%w: input closed before hello", errNoClient)
			}
			if msg.line == protocol.Hello {
				return nil
			}
		case <-t.C:
			return fmt.Errorf("%w within %v", errNoClient, timeout)
		case <-ctx.Done():
			return fmt.Errorf("%w: interrupted", errNoClient)
		}
	}
}

// awaitProgram waits, up to the hello timeout, for the program the client
// sends on stdin, and checks it against the size and hash in the session.
func awaitProgram(ctx context.Context, control <-chan controlMsg, s protocol.Session) (string, error) {
	t := time.NewTimer(s.HelloTimeout)
	defer t.Stop()
	for {
		select {
		case msg, ok := <-control:
			if !ok {
				return "", fmt.Errorf("%w: input closed before the program came", errNoClient)
			}
			if msg.line != protocol.ProgramLine {
				continue
			}
			sum := sha256.Sum256(msg.data)
			if len(msg.data) != s.ProgramSize || hex.EncodeToString(sum[:]) != s.ProgramSHA256 {
				return "", fmt.Errorf("the program on stdin (%d bytes) is not the session's (%d bytes, sha256 %s)", len(msg.data), s.ProgramSize, s.ProgramSHA256)
			}
			return string(msg.data), nil
		case <-t.C:
			return "", fmt.Errorf("%w: no program within %v", errNoClient, s.HelloTimeout)
		case <-ctx.Done():
			return "", fmt.Errorf("%w: interrupted", errNoClient)
		}
	}
}

// supervise waits until the trace is done, writing the ready line when its
// probes are attached and stopping it when the session must end (stop line,
// client gone or silent, signal, the duration counted from the ready line,
// the deadline), and killing it if it has not finished StopGrace after that.
func (o Options) supervise(ctx context.Context, control <-chan controlMsg, tr Trace) {
	s := o.Session
	deadline := time.NewTimer(time.Until(o.end))
	defer deadline.Stop()
	var duration, idle, graceOver, again <-chan time.Time
	ready := tr.Ready()
	idleTimer := time.NewTimer(s.IdleTimeout)
	defer idleTimer.Stop()
	if s.Attached {
		idle = idleTimer.C
	}
	// A stop request can be missed (bpftrace checks its flags between
	// waits for events, and a quiet program may have none): once stopping,
	// it is repeated every second until the trace is done.
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	stopping := false
	var allowed time.Duration
	stop := func(why string) {
		if stopping {
			return
		}
		stopping = true
		if why != "" {
			o.say("stopping the trace: %s", why)
		}
		tr.Stop()
		allowed = tr.StopGrace()
		graceOver, again = time.After(allowed), ticker.C
	}
	for {
		select {
		case <-tr.Done():
			return
		case n := <-ready:
			fmt.Fprintln(o.Stderr, protocol.ReadyLine(n))
			ready = nil
			if s.Duration > 0 {
				duration = time.After(s.Duration)
			}
		case <-ctx.Done():
			stop("")
			ctx = context.Background() // stop once
		case msg, ok := <-control:
			switch {
			case !ok:
				control = nil
				if s.Attached {
					stop("the client went away")
				}
			case msg.line == protocol.Stop:
				stop("")
			default:
				idleTimer.Reset(s.IdleTimeout)
			}
		case <-idle:
			stop(fmt.Sprintf("no word from the client for %v", s.IdleTimeout))
		case <-duration:
			stop("")
		case <-deadline.C:
			stop(fmt.Sprintf("the session's deadline (%v, %s) was reached", s.Deadline, o.end.UTC().Format(time.RFC3339)))
		case <-again:
			tr.Stop()
		case <-graceOver:
			o.say("the tracer did not finish %v after it was asked to stop; killing it", allowed)
			tr.Kill()
			graceOver, again = nil, nil
		}
	}
}

// exitCode turns the tracer's wait status into an exit code, 128+N for a
// tracer killed by signal N.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	return 1
}
