package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
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
	// Stdout and Stderr receive the tracer's output unchanged, and the
	// runner's own messages (on Stderr).
	Stdout, Stderr io.Writer
	// Kernel locates the tracing interfaces.
	Kernel Kernel
	// ProcRoot is normally /proc.
	ProcRoot string
	// Tracer is the bpftrace binary.
	Tracer string
	// StopGrace is how long the tracer has to print its maps after SIGINT
	// before it is killed.
	StopGrace time.Duration
}

// Run carries out one session and returns the container's exit code: the
// tracer's own, or one of protocol's Exit codes. It returns when the tracer
// has exited; ctx's cancellation (SIGINT/SIGTERM to the runner) stops the
// tracer the Ctrl-C way.
func Run(ctx context.Context, o Options) int {
	ctx, cancelControl := context.WithCancel(ctx)
	defer cancelControl()
	control := readControl(ctx, o.Stdin)
	say := func(format string, a ...any) { fmt.Fprintf(o.Stderr, "trace-debug-runner: "+format+"\n", a...) }

	if o.Session.Attached {
		if err := awaitHello(ctx, control, o.Session.HelloTimeout); err != nil {
			say("%v; not starting the tracer", err)
			return protocol.ExitNoClient
		}
	}
	env, err := o.prepareKernel()
	if err != nil {
		say("%v", err)
		return protocol.ExitKernelUnsupported
	}
	pid, err := FindTargetPID(o.ProcRoot, o.Session.ContainerID, o.Session.SharedPID)
	if err != nil {
		say("find the target container's process: %v", err)
		return protocol.ExitTargetNotFound
	}
	switch {
	case o.Session.Syscalls:
		return o.runCensus(ctx, control, pid, say)
	case len(o.Session.Funcs) > 0:
		return o.runGoFuncs(ctx, control, pid, say)
	}
	program := SubstituteContainerPID(o.Session.Program, pid)
	if err := CheckGoUretprobes(program, o.Session.UnsafeUretprobe); err != nil {
		say("%v", err)
		return protocol.ExitUnsafeProgram
	}

	announced := make(chan int, 1)
	outs := newAnnounceWatchers(announced, o.Stdout, o.Stderr)
	cmd := exec.Command(o.Tracer, TracerArgs(o.Session, program)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = outs[0], outs[1]
	// Its own process group: terminal and runner signals reach the tracer
	// only through the runner, exactly once.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		say("start %s: %v", o.Tracer, err)
		return protocol.ExitProgramRejected
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	ready := make(chan struct{})
	probes := make(chan int, 1)
	go reportReady(ctx, o.ProcRoot, cmd.Process.Pid, announced, o.Stderr, ready, probes)

	pgid := cmd.Process.Pid
	grace := func() time.Duration {
		select {
		case n := <-probes:
			probes <- n
			return o.StopGrace + time.Duration(n)*PerProbeGrace
		default:
			return o.StopGrace
		}
	}
	stopped := o.supervise(ctx, control, done, say, grace,
		func() { _ = syscall.Kill(-pgid, syscall.SIGINT) },
		func() { _ = syscall.Kill(-pgid, syscall.SIGKILL) })
	code := exitCode(<-done)
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		say("peak memory of %s: %d kB", filepath.Base(o.Tracer), ru.Maxrss)
	}
	select {
	case <-ready:
	default:
		if code != 0 && !stopped {
			say("%s exited with code %d before its probes were attached", o.Tracer, code)
			return protocol.ExitProgramRejected
		}
	}
	return code
}

// prepareKernel mounts the tracing filesystems and, for bpftrace, finds the
// kernel's types; the native engines read no kernel structures.
func (o Options) prepareKernel() ([]string, error) {
	if err := o.Kernel.MountTracing(); err != nil {
		return nil, err
	}
	RaiseMemlock()
	if o.Session.Program == "" {
		return nil, nil
	}
	env, _, err := o.Kernel.TypeSource()
	return env, err
}

// TracerArgs returns bpftrace's arguments for the session's (substituted)
// program: never through a shell, and in JSON when the session asks for it.
func TracerArgs(s protocol.Session, program string) []string {
	if s.JSON {
		return []string{"-f", "json", "-e", program}
	}
	return []string{"-e", program}
}

// errNoClient means an attached session's client never said hello.
var errNoClient = errors.New("no client attached")

func awaitHello(ctx context.Context, control <-chan string, timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case line, ok := <-control:
			if !ok {
				return fmt.Errorf("%w: input closed before hello", errNoClient)
			}
			if line == protocol.Hello {
				return nil
			}
		case <-t.C:
			return fmt.Errorf("%w within %v", errNoClient, timeout)
		case <-ctx.Done():
			return fmt.Errorf("%w: interrupted", errNoClient)
		}
	}
}

// supervise waits until the tracer exits (a value arrives on done, which it
// puts back for the caller), interrupting it when the session must end and
// killing it if it does not exit within grace(). It reports whether the
// runner asked the tracer to stop.
func (o Options) supervise(ctx context.Context, control <-chan string, done chan error, say func(string, ...any), grace func() time.Duration, interrupt, kill func()) bool {
	s := o.Session
	deadline := time.NewTimer(s.Deadline)
	defer deadline.Stop()
	var duration, idle, graceOver, reinterrupt <-chan time.Time
	var allowed time.Duration
	if s.Duration > 0 {
		duration = time.After(s.Duration)
	}
	idleTimer := time.NewTimer(s.IdleTimeout)
	defer idleTimer.Stop()
	// A SIGINT that lands between bpftrace's check of its flag and its next
	// wait for events is only seen at the next event, and a quiet program may
	// have none: once stopping, say it again every second until it exits.
	again := time.NewTicker(time.Second)
	defer again.Stop()
	if s.Attached {
		idle = idleTimer.C
	}
	stopping := false
	stop := func(why string) {
		if stopping {
			return
		}
		stopping = true
		if why != "" {
			say("stopping the trace: %s", why)
		}
		interrupt()
		allowed = grace()
		graceOver = time.After(allowed)
		reinterrupt = again.C
	}
	for {
		select {
		case err := <-done:
			done <- err
			return stopping
		case <-ctx.Done():
			stop("")
			ctx = context.Background() // stop once
		case line, ok := <-control:
			switch {
			case !ok:
				control = nil
				if s.Attached {
					stop("the client went away")
				}
			case line == protocol.Stop:
				stop("")
			default:
				idleTimer.Reset(s.IdleTimeout)
			}
		case <-idle:
			stop(fmt.Sprintf("no word from the client for %v", s.IdleTimeout))
		case <-duration:
			stop("")
		case <-deadline.C:
			stop(fmt.Sprintf("the session's deadline (%v) was reached", s.Deadline))
		case <-reinterrupt:
			interrupt()
		case <-graceOver:
			say("the tracer did not exit %v after SIGINT; killing it", allowed)
			kill()
			graceOver, reinterrupt = nil, nil
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
