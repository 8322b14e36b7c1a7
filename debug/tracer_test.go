package debug

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
			tr := &tracer{name: "s", errOut: io.Discard, interrupts: interrupts, presses: c.before}
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
			err := tr.interact(context.Background(), c.leaveFirst, stop, func(ctx context.Context) error {
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
			if left := errors.Is(err, errLeft); left != c.wantLeft {
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
	go func() { ctl.feed(ctx, w, openingLines([]byte("program 3\nabc"))); w.Close() }()
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
	tr := &tracer{name: "t", errOut: io.Discard}
	tr.setResult(protocol.ExitMemory)
	if e, err := tr.wait(context.Background()); err != nil || e.exitCode() != protocol.ExitMemory || ExitCode(e.err("t")) != ExitMemory {
		t.Fatalf("wait = %+v, %v", e, err)
	}

	p := tracerPod(corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 128, Reason: "StartError", Message: "exec: no such file"}})
	tr = &tracer{kube: kube{Client: fake.NewClientset(p), Namespace: p.Namespace}, pod: p.Name, name: "t", errOut: io.Discard}
	e, err := tr.wait(context.Background())
	if err != nil || e.terminated == nil || ExitCode(e.err("t")) != ExitImage || !strings.Contains(e.err("t").Error(), "no such file") {
		t.Fatalf("wait = %+v, %v", e, err)
	}
}
