package group

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/trace-debug/kubectl-trace-debug/bpf/mapmerge"
	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
	"github.com/trace-debug/kubectl-trace-debug/debug/exit"
	"github.com/trace-debug/kubectl-trace-debug/debug/kube/kubetest"
	"github.com/trace-debug/kubectl-trace-debug/debug/pods"
	"github.com/trace-debug/kubectl-trace-debug/debug/session"
	"github.com/trace-debug/kubectl-trace-debug/internal/syncbuf"
)

func TestPodLines(t *testing.T) {
	var mu sync.Mutex
	for _, c := range []struct {
		name   string
		json   bool
		writes []string
		want   string
	}{
		{"text, lines split anyhow", false, []string{"@calls: 2\n\n@x", "[1]: 3\npart"}, "[web-1] @calls: 2\n\n[web-1] @x[1]: 3\n[web-1] part\n"},
		{"json gets a pod field", true, []string{`{"type": "map", "data": {"@calls": 2}}` + "\n{}\n"}, `{"pod": "web-1", "type": "map", "data": {"@calls": 2}}` + "\n" + `{"pod": "web-1"}` + "\n"},
		{"json mode, a text line", true, []string{"hello\n"}, "[web-1] hello\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out strings.Builder
			l := &podLines{w: &out, pod: "web-1", json: c.json, mu: &mu}
			for _, w := range c.writes {
				if n, err := l.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			l.Flush()
			if out.String() != c.want {
				t.Fatalf("got %q, want %q", out.String(), c.want)
			}
		})
	}
}

// One rule for every command over several pods.
func TestOutcome(t *testing.T) {
	refused := exit.Codef(exit.ProgramRejected, "rejected")
	for _, c := range []struct {
		name    string
		errs    []error
		skipped []pods.Skipped
		code    int
	}{
		{"every pod done", []error{nil, nil}, nil, 0},
		{"one failed", []error{nil, refused}, nil, exit.Partial},
		{"all failed alike", []error{refused, refused}, nil, exit.ProgramRejected},
		{"all failed differently", []error{refused, exit.Codef(exit.Image, "pull")}, nil, exit.Partial},
		{"all done, one pod not running", []error{nil, nil}, []pods.Skipped{{Pod: "c", Reason: "not running (Pending)"}}, exit.Partial},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := Outcome{What: "deployment/web", Session: "trace-debug-x", Verb: "traced", Pods: []string{"a", "b"}, Errs: c.errs, Skipped: c.skipped}
			var stderr strings.Builder
			o.Report(&stderr, "traced, exit code 0", func(err error) error { return err })
			if err := o.Result(); exit.Code(err) != c.code {
				t.Fatalf("code %d (%v), want %d", exit.Code(err), err, c.code)
			}
			for _, pod := range []string{"[a]", "[b]"} {
				if !strings.Contains(stderr.String(), pod) {
					t.Errorf("no outcome for %s:\n%s", pod, stderr.String())
				}
			}
			if len(c.skipped) > 0 && !strings.Contains(stderr.String(), "[c] not traced: not running (Pending)") {
				t.Errorf("skipped pod not reported:\n%s", stderr.String())
			}
		})
	}
	var quiet strings.Builder
	Outcome{Pods: []string{"a"}, Errs: []error{nil}}.Report(&quiet, "", nil)
	if quiet.Len() != 0 {
		t.Errorf("a success with no ok text printed %q", quiet.String())
	}
}

func TestFanOutAndReady(t *testing.T) {
	in := make(chan os.Signal, 1)
	outs, stop := fanOut(in, 3)
	defer stop()
	in <- os.Interrupt
	for i, c := range outs {
		select {
		case <-c:
		case <-time.After(5 * time.Second):
			t.Fatalf("pod %d did not get the signal", i)
		}
	}
	calls := 0
	r := readyCount{want: 3, done: func(string) { calls++ }}
	for i := 0; i < 3; i++ {
		r.hook("s")
		if want := map[bool]int{true: 1, false: 0}[i == 2]; calls != want {
			t.Fatalf("after %d ready: done called %d times, want %d", i+1, calls, want)
		}
	}
}

// three is a fake cluster of pods a, b and c whose runners follow script
// (by pod), and the targets they make.
func three(script func(pod string) kubetest.Script) (*kubetest.Cluster, pods.Targets) {
	var running []corev1.Pod
	for _, n := range []string{"a", "b", "c"} {
		running = append(running, *kubetest.Pod("ns", n, "app"))
	}
	cl := kubetest.New(script, &running[0], &running[1], &running[2], kubetest.Namespace("ns"))
	return cl, pods.Targets{What: "deployment/web", Running: running}
}

var result0 = kubetest.Err(protocol.ResultLine(0))

// A trace over three pods where one is refused: the others' maps are
// merged, every line is marked with its pod, and the outcome is exit 13.
func TestTraceOnePodFails(t *testing.T) {
	cl, targets := three(func(pod string) kubetest.Script {
		if pod == "b" {
			return kubetest.Script{Lines: []kubetest.Line{kubetest.Err("ERROR: syntax"), kubetest.Err(protocol.ResultLine(protocol.ExitProgramRejected))},
				ExitAfterLines: true, ExitCode: protocol.ExitProgramRejected}
		}
		return kubetest.Script{Lines: []kubetest.Line{kubetest.Err(protocol.ReadyLine(1)), kubetest.Out("hello from " + pod),
			kubetest.Out(protocol.MapsLine), kubetest.Out("@calls: 2"), result0}, ExitAfterLines: true}
	})
	s := protocol.DefaultSession()
	s.Program, s.Attached = `uprobe:/app/server:main.f { @calls = count(); }`, true
	var stdout, stderr syncbuf.Buffer
	merged := 0
	cfg := TraceConfig{
		Request: session.Request{Image: "runner:1", Session: s, StartTimeout: 10 * time.Second},
		End:     Maps{Program: s.Program, Merged: func(n int) { merged = n }},
	}
	o, err := Trace(context.Background(), cl.Clients("ns"), targets, cfg, session.Streams{Out: &stdout, ErrOut: &stderr})
	if err != nil {
		t.Fatal(err)
	}
	o.Report(&stderr, "traced, exit code 0", func(err error) error { return err })
	if err := o.Result(); exit.Code(err) != exit.Partial || o.Failed() != 1 || exit.Code(o.Errs[1]) != exit.ProgramRejected {
		t.Fatalf("result %v, errs %v; want exit 13 with pod b refused", err, o.Errs)
	}
	if merged != 2 || !strings.Contains(stdout.String(), "@calls: 4") || strings.Contains(stdout.String(), "@calls: 2") {
		t.Errorf("want the two traced pods' @calls merged into 4 (merged %d):\n%s", merged, stdout.String())
	}
	for _, want := range []string{"[a] hello from a", "[c] hello from c"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
		}
	}
	for _, want := range []string{"[b] ERROR: syntax", "[b] session " + o.Session + ": the program was rejected", "[a] session " + o.Session + ": traced"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
	names := map[string]bool{}
	for _, r := range cl.Runners() {
		names[r.Name()] = true
	}
	if len(cl.Runners()) != 3 || len(names) != 1 {
		t.Errorf("want one tracer per pod under one name, got %d tracers named %v", len(cl.Runners()), names)
	}
}

// A command over a session's pods (stop, here) fails in one: every pod is
// still done, and the outcome is exit 13.
func TestSessionsOnePodFails(t *testing.T) {
	cl, targets := three(func(string) kubetest.Script { return kubetest.Script{} })
	stopped := kubetest.Script{Lines: []kubetest.Line{kubetest.Err(protocol.ReadyLine(1))}, OnStop: []kubetest.Line{kubetest.Out(protocol.MapsLine), kubetest.Out("@calls: 1"), result0}}
	for _, p := range []string{"a", "b", "c"} {
		s := stopped
		if p == "b" {
			s.IgnoreStop = true // wedged: its stop is sent, but it never ends
		}
		if _, err := cl.AddSession("ns", p, "trace-debug-x", "BEGIN { }", s); err != nil {
			t.Fatal(err)
		}
	}
	// the pods as the API serves them now, with their session
	var refreshed []corev1.Pod
	for _, p := range targets.Running {
		got, err := cl.Clients("ns").Pod(context.Background(), p.Name)
		if err != nil {
			t.Fatal(err)
		}
		refreshed = append(refreshed, *got)
	}
	targets.Running = refreshed
	var stdout, stderr syncbuf.Buffer
	g, err := Sessions(cl.Clients("ns"), targets, "trace-debug-x", "stopped", session.Streams{Out: &stdout, ErrOut: &stderr})
	if err != nil || len(g.Members()) != 3 {
		t.Fatalf("Sessions = %v, %v", g, err)
	}
	wedged := errors.New("wedged")
	o := g.Run(context.Background(), nil, func(ctx context.Context, m *Member) error {
		if m.Pod == "b" {
			m.Tracer.SendStop(ctx)
			return exit.With(exit.Timeout, wedged)
		}
		_, err := m.Tracer.Stop(ctx)
		return err
	})
	if err := o.Result(); exit.Code(err) != exit.Partial || !errors.Is(o.Errs[1], wedged) {
		t.Fatalf("result %v, errs %v; want exit 13", err, o.Errs)
	}
	for _, p := range []string{"a", "b", "c"} {
		if got := cl.Runner("ns", p, "trace-debug-x").Received(); len(got) != 1 || got[0] != protocol.Stop {
			t.Errorf("pod %s received %q, want one stop", p, got)
		}
	}
	if _, err := Sessions(cl.Clients("ns"), targets, "nope", "stopped", session.Streams{}); exit.Code(err) != exit.TargetNotFound {
		t.Fatalf("a session no pod holds: %v", err)
	}
}

// One pod's final maps are shown as it printed them: a native summary as
// text, with the runner's lines that follow it in a session's log.
func TestMapsEndOfOne(t *testing.T) {
	kept := `{"type": "map", "data": {"@calls": {"main.f": 3}}}` + "\ntrace-debug-runner: trace ended, exit code 0\n"
	var b strings.Builder
	one := func(m Maps) (*mapmerge.Dump, error) {
		return m.End(Ends{Out: &b, One: true, Pods: []PodEnd{{Pod: "web", Kept: kept, Found: true, Lines: &b}}})
	}
	d, err := one(Maps{Native: true})
	if err != nil || len(d.Maps) != 1 || !strings.Contains(b.String(), "@calls[main.f]: 3\n") || !strings.Contains(b.String(), "trace ended, exit code 0") {
		t.Fatalf("native: %v\n%s", err, b.String())
	}
	b.Reset()
	if _, err := one(Maps{Native: true, JSON: true}); err != nil || b.String() != kept {
		t.Fatalf("native as JSON: want it as printed, got %q (%v)", b.String(), err)
	}
	b.Reset()
	if d, err := one(Maps{Native: true, Quiet: true}); err != nil || b.Len() != 0 || len(d.Maps) != 1 {
		t.Fatalf("quiet: want the maps read and nothing shown, got %q (%v)", b.String(), err)
	}
}

// tally is a test double of a new mode's ending: it counts what each pod
// printed after the maps line.
type tally struct{ got map[string]string }

func (e *tally) End(ends Ends) (*mapmerge.Dump, error) {
	e.got = map[string]string{}
	for _, p := range ends.Pods {
		if p.Found {
			e.got[p.Pod] = p.Kept
		}
	}
	fmt.Fprintf(ends.Out, "%d pods ended\n", len(e.got))
	return nil, nil
}

// A new mode's end is an Ending and nothing else: the group hands it each
// pod's end, over one pod and several, and the outcome is the pods' own.
func TestNewModeEnding(t *testing.T) {
	for _, n := range []int{1, 3} {
		cl, targets := three(func(pod string) kubetest.Script {
			return kubetest.Script{Lines: []kubetest.Line{kubetest.Err(protocol.ReadyLine(1)), kubetest.Out("talk of " + pod),
				kubetest.Out(protocol.MapsLine), kubetest.Out("end of " + pod), result0}, ExitAfterLines: true}
		})
		targets.Running = targets.Running[:n]
		s := protocol.DefaultSession()
		s.Program, s.Attached = `BEGIN { }`, true
		var stdout, stderr syncbuf.Buffer
		e := &tally{}
		o, err := Trace(context.Background(), cl.Clients("ns"), targets, TraceConfig{Request: session.Request{Image: "runner:1", Session: s, StartTimeout: 10 * time.Second}, End: e},
			session.Streams{Out: &stdout, ErrOut: &stderr})
		if err != nil || o.Result() != nil || o.One != (n == 1) || len(o.Tracers) != n || o.Tracers[0] == nil {
			t.Fatalf("%d pods: %v, %v (one %v, %d tracers)", n, err, o.Result(), o.One, len(o.Tracers))
		}
		if len(e.got) != n || e.got["a"] != "end of a\n" || !strings.Contains(stdout.String(), fmt.Sprintf("%d pods ended", n)) || strings.Contains(stdout.String(), "end of") {
			t.Fatalf("%d pods: the ending got %q\n%s", n, e.got, stdout.String())
		}
		if want := map[bool]string{true: "talk of a\n", false: "[a] talk of a\n"}[n == 1]; !strings.Contains(stdout.String(), want) {
			t.Fatalf("%d pods: want %q in\n%s", n, want, stdout.String())
		}
	}
}
