package session

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
	"github.com/trace-debug/kubectl-trace-debug/debug/exit"
	"github.com/trace-debug/kubectl-trace-debug/debug/kube"
	"github.com/trace-debug/kubectl-trace-debug/debug/kube/kubetest"
)

// The one Ctrl-C state machine: the first interrupt stops, the next leaves;
// with leaveFirst the first leaves; the count carries over between phases.
func TestInteract(t *testing.T) {
	for _, c := range []struct {
		name       string
		before     int // interrupts seen in an earlier phase
		presses    int
		leaveFirst bool
		wantStops  int
		wantLeft   bool
	}{
		{"no interrupt: the stream's own end", 0, 0, false, 0, false},
		{"first stops, the stream goes on to its end", 0, 1, false, 1, false},
		{"second leaves", 0, 2, false, 1, true},
		{"no-stop: the first leaves", 0, 1, true, 0, true},
		{"a press in an earlier phase counts", 1, 1, false, 0, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			interrupts := make(chan os.Signal, 4)
			tr := &Tracer{Name: "s", Streams: Streams{ErrOut: io.Discard, Interrupts: interrupts}, presses: c.before}
			stops := 0
			ended := make(chan struct{})
			stop := func() {
				stops++
				if c.presses == 1 {
					close(ended) // a stopped session's stream ends by itself
				}
			}
			for i := 0; i < c.presses; i++ {
				interrupts <- os.Interrupt
			}
			streamErr := errors.New("stream's own end")
			err := tr.Interact(context.Background(), c.leaveFirst, stop, func(ctx context.Context) error {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-ended:
					return streamErr
				case <-time.After(map[bool]time.Duration{true: 10 * time.Second, false: 50 * time.Millisecond}[c.presses > 0]):
					return streamErr
				}
			})
			if stops != c.wantStops {
				t.Errorf("stop called %d times, want %d", stops, c.wantStops)
			}
			if left := errors.Is(err, ErrLeft); left != c.wantLeft {
				t.Errorf("err = %v, want left = %v", err, c.wantLeft)
			}
			if !c.wantLeft && !errors.Is(err, streamErr) {
				t.Errorf("err = %v, want the stream's own", err)
			}
		})
	}
}

// A broken stream is picked up from the log without repeating what was
// shown: lines are skipped by class, the rest routed to stdout or stderr.
func TestReplay(t *testing.T) {
	shown := &tally{}
	var attachedOut, attachedErr bytes.Buffer
	// What the attach showed before it broke: two lines of output (and half
	// of a third), the runner's first line.
	_, _ = shown.counting(&attachedOut).Write([]byte("@a: 1\nline 2\nhal"))
	_, _ = shown.counting(&attachedErr).Write([]byte(protocol.RunnerPrefix + "bpftrace 0.27.1\n"))
	if got := shown.seen(); got != [2]int{1, 2} {
		t.Fatalf("tally = %v, want [1 2]", got)
	}
	log := protocol.RunnerPrefix + "bpftrace 0.27.1\n@a: 1\n" + protocol.ReadyLine(1) + "\nline 2\nhalf a line\n@calls: 3\n" + protocol.ResultLine(0) + "\n"
	var out, errOut bytes.Buffer
	r := &replay{out: &out, errOut: &errOut, skip: shown.seen(), shown: shown}
	for _, chunk := range []string{log[:10], log[10:40], log[40:]} { // any chunking
		if _, err := r.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	if want := "half a line\n@calls: 3\n"; out.String() != want {
		t.Errorf("stdout = %q, want %q", out.String(), want)
	}
	if want := protocol.ReadyLine(1) + "\n" + protocol.ResultLine(0) + "\n"; errOut.String() != want {
		t.Errorf("stderr = %q, want %q", errOut.String(), want)
	}
	if got := shown.seen(); got != [2]int{3, 4} {
		t.Errorf("tally after the replay = %v, want [3 4] (a second break resumes after it)", got)
	}
}

// The control feed: the opening first, then pings, and the stop line once
// asked.
func TestControlFeed(t *testing.T) {
	ctl := newControl()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r, w := io.Pipe()
	go func() { ctl.feed(ctx, w, OpeningLines([]byte("program 3\nabc"))); w.Close() }()
	var got strings.Builder
	buf := make([]byte, 256)
	stopAsked := false
	for !strings.HasSuffix(got.String(), protocol.Stop+"\n") {
		n, err := r.Read(buf)
		got.Write(buf[:n])
		if err != nil {
			t.Fatalf("feed ended early: %v (%q)", err, got.String())
		}
		if !stopAsked && strings.Contains(got.String(), protocol.Ping+"\n") {
			ctl.requestStop()
			ctl.requestStop() // twice is once
			stopAsked = true
		}
	}
	if want := protocol.Hello + "\nprogram 3\nabc" + protocol.Ping + "\n" + protocol.Stop + "\n"; got.String() != want {
		t.Fatalf("feed wrote %q, want %q", got.String(), want)
	}
}

// wait takes the result line's code at once; without one it waits for the
// container's exit, through the API.
func TestTracerWait(t *testing.T) {
	tr := &Tracer{Name: "t", Streams: Streams{ErrOut: io.Discard}}
	tr.setResult(protocol.ExitMemory, 0)
	if e, err := tr.Wait(context.Background()); err != nil || e.ExitCode() != protocol.ExitMemory || exit.Code(e.Err("t")) != exit.Memory {
		t.Fatalf("wait = %+v, %v", e, err)
	}
	// The program's own exit(3) is the program's, never "target not found".
	tr.setResult(protocol.ExitProgramExit, 3)
	if e, err := tr.Wait(context.Background()); err != nil || exit.Code(e.Err("t")) != exit.ProgramExit || e.Err("t").Error() != "the program ended itself with exit(3)" {
		t.Fatalf("wait = %+v, %v", e, err)
	}

	p := kubetest.Pod("ns", "web", "app")
	p.Status.EphemeralContainerStatuses = []corev1.ContainerStatus{{Name: "t", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 128, Reason: "StartError", Message: "exec: no such file"}}}}
	tr = &Tracer{Clients: kube.Clients{Client: fake.NewClientset(p), Namespace: p.Namespace}, Pod: p.Name, Name: "t", Streams: Streams{ErrOut: io.Discard}}
	e, err := tr.Wait(context.Background())
	if err != nil || e.terminated == nil || exit.Code(e.Err("t")) != exit.Image || !strings.Contains(e.Err("t").Error(), "no such file") {
		t.Fatalf("wait = %+v, %v", e, err)
	}
}

func TestReadyWatcher(t *testing.T) {
	for _, c := range []struct {
		name   string
		writes []string
		ready  int
		result int // -1: no result line
	}{
		{"one write", []string{"x\n" + protocol.ReadyLine(2) + "\ny\n"}, 1, -1},
		{"split across writes", []string{"abc\ntrace-debug-runner: probes", " attached (1)\n"}, 1, -1},
		{"twice counts once", []string{protocol.ReadyLine(1) + "\n" + protocol.ReadyLine(1) + "\n"}, 1, -1},
		// A log glues a runner line to an unfinished line of the program's.
		{"after unfinished output", []string{"Attached 3 probes" + protocol.ReadyLine(1) + "\n"}, 1, -1},
		{"no newline yet", []string{protocol.ReadyLine(1)}, 0, -1},
		{"absent", []string{"Attaching 1 probe...\n"}, 0, -1},
		{"result", []string{"@x: 1\n" + protocol.ResultLine(3) + "\n"}, 0, 3},
		{"result after unfinished output", []string{"partial", protocol.ResultLine(0) + "\n"}, 0, 0},
		{"result without code", []string{protocol.ResultPrefix + "\n"}, 0, -1},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out strings.Builder
			ready, result := 0, -1
			w := &readyWatcher{w: &out, onReady: func() { ready++ }, onResult: func(code, _ int) { result = code }}
			for _, s := range c.writes {
				if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			if ready != c.ready || result != c.result {
				t.Fatalf("onReady called %d times, result %d; want %d, %d", ready, result, c.ready, c.result)
			}
			if out.String() != strings.Join(c.writes, "") {
				t.Fatalf("output changed: %q", out.String())
			}
		})
	}
}

func TestTracerResult(t *testing.T) {
	for _, c := range []struct {
		exit int32
		code int
		msg  string
	}{
		{0, 0, ""},
		{1, 1, "the tracer exited with code 1"},
		{130, 130, "code 130"},
		{protocol.ExitProgramRejected, exit.ProgramRejected, "rejected before anything was attached"},
		{protocol.ExitKernelUnsupported, exit.Kernel, "kernel cannot be traced"},
		{protocol.ExitUnsafeProgram, exit.ProgramRejected, "would crash its target"},
		{protocol.ExitTargetNotFound, exit.TargetNotFound, "could not find the target"},
		{protocol.ExitNoClient, exit.Internal, "did not hear from this client"},
		{protocol.ExitUsage, exit.Image, "different versions"},
		{protocol.ExitMemory, exit.Memory, "memory limit"},
		{protocol.ExitExpired, exit.Timeout, "after its session's deadline"},
	} {
		err := tracerResult("trace-debug-x", &corev1.ContainerStateTerminated{ExitCode: c.exit, Reason: "Error"})
		if exit.Code(err) != c.code || (err != nil && !strings.Contains(err.Error(), c.msg)) {
			t.Errorf("exit %d: got %v (code %d), want code %d with %q", c.exit, err, exit.Code(err), c.code, c.msg)
		}
	}
}

// A wait that the user interrupts ends at once with exit 130 saying what
// it was waiting for; one that is not interrupted keeps its own result.
func TestWhileInterruptible(t *testing.T) {
	interrupts := make(chan os.Signal, 1)
	interrupts <- os.Interrupt
	err := WhileInterruptible(context.Background(), interrupts, "checking permissions", "", func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	})
	if exit.Code(err) != exit.Interrupted || !strings.Contains(err.Error(), "interrupted while checking permissions; nothing was left in the pod") {
		t.Fatalf("interrupted: %v", err)
	}
	own := errors.New("own")
	if err := WhileInterruptible(context.Background(), make(chan os.Signal), "x", "", func(context.Context) error { return own }); err != own {
		t.Fatalf("not interrupted: %v, want the wait's own error", err)
	}
}
