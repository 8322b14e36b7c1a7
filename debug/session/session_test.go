package session

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	k8stesting "k8s.io/client-go/testing"

	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
	"github.com/trace-debug/kubectl-trace-debug/debug/exit"
	"github.com/trace-debug/kubectl-trace-debug/debug/kube/kubetest"
	"github.com/trace-debug/kubectl-trace-debug/internal/syncbuf"
)

// These tests drive whole sessions through the transport seam: a fake
// runner (kubetest) answers the attach and the log as the real one does,
// line by line, and the session's output, result and control lines are
// checked.

// request is an attached session of program in pod web.
func request(program string) Request {
	s := protocol.DefaultSession()
	s.Program, s.Attached = program, true
	return Request{Pod: "web", Image: "runner:1", Session: s, Program: program, StartTimeout: 10 * time.Second, ClientVersion: "v1"}
}

// cluster is a fake cluster with pod ns/web whose tracers follow script.
func cluster(script kubetest.Script) *kubetest.Cluster {
	return kubetest.New(func(string) kubetest.Script { return script }, kubetest.Pod("ns", "web", "app"), kubetest.Namespace("ns"))
}

var (
	ready   = kubetest.Err(protocol.ReadyLine(1))
	maps    = kubetest.Out("@calls: 3")
	result0 = kubetest.Err(protocol.ResultLine(0))
)

func TestTraceAttached(t *testing.T) {
	for _, c := range []struct {
		name    string
		script  kubetest.Script
		presses int // interrupts sent once the probes are attached
		code    int
		stdout  string
		stderr  []string
		sent    []string // control lines the runner got (hello, pings left out)
	}{
		{name: "runs to its result", script: kubetest.Script{Lines: []kubetest.Line{ready, maps, result0}, ExitAfterLines: true},
			stdout: "@calls: 3\n", stderr: []string{"tracer trace-debug-", "probes attached"}},
		{name: "program rejected", script: kubetest.Script{Lines: []kubetest.Line{kubetest.Err("ERROR: syntax"), kubetest.Err(protocol.ResultLine(protocol.ExitProgramRejected))}, ExitAfterLines: true, ExitCode: protocol.ExitProgramRejected},
			code: exit.ProgramRejected, stderr: []string{"ERROR: syntax"}},
		{name: "Ctrl-C once stops it and its maps follow", script: kubetest.Script{Lines: []kubetest.Line{ready}, OnStop: []kubetest.Line{maps, result0}},
			presses: 1, stdout: "@calls: 3\n", stderr: []string{"stopping session", "Ctrl-C again to leave"}, sent: []string{protocol.Stop}},
		{name: "Ctrl-C twice leaves a wedged session", script: kubetest.Script{Lines: []kubetest.Line{ready}, OnStop: []kubetest.Line{maps, result0}, IgnoreStop: true},
			presses: 2, code: exit.Interrupted, sent: []string{protocol.Stop}},
		{name: "a broken attach resumes from the log without repeating", script: kubetest.Script{Lines: []kubetest.Line{ready, kubetest.Out("line 1")}, Break: errors.New("stream reset"), OnStop: []kubetest.Line{maps, result0}},
			stdout: "line 1\n@calls: 3\n", stderr: []string{"output stream broke (attach to tracer trace-debug-", "stream reset"}},
		{name: "a stream that ends early: the container's exit decides", script: kubetest.Script{Lines: []kubetest.Line{ready, kubetest.Out("line 1")}, ExitAfterLines: true, ExitCode: 137},
			code: 137, stdout: "line 1\n", stderr: []string{"probes attached"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cl := cluster(c.script)
			var stdout, stderr syncbuf.Buffer
			interrupts := make(chan os.Signal, 4)
			cl2 := cl
			s := Streams{Out: &stdout, ErrOut: &stderr, Interrupts: interrupts, OnReady: func(name string) {
				if c.presses > 0 {
					interrupts <- os.Interrupt
				}
				if c.presses > 1 { // the second once the first's stop has arrived
					go func() {
						for len(cl2.Runner("ns", "web", name).Received()) == 0 {
							time.Sleep(5 * time.Millisecond)
						}
						interrupts <- os.Interrupt
					}()
				}
			}}
			tr, err := Trace(context.Background(), cl.Clients("ns"), request("BEGIN { }"), s)
			if exit.Code(err) != c.code {
				t.Fatalf("exit %d (%v), want %d\nstderr:\n%s", exit.Code(err), err, c.code, stderr.String())
			}
			if c.code == exit.Interrupted && !errors.Is(err, ErrLeft) {
				t.Fatalf("err = %v, want ErrLeft", err)
			}
			if stdout.String() != c.stdout {
				t.Errorf("stdout = %q, want %q", stdout.String(), c.stdout)
			}
			for _, want := range c.stderr {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
				}
			}
			r := cl.Runner("ns", "web", tr.Name)
			if got := r.Received(); strings.Join(got, ",") != strings.Join(c.sent, ",") {
				t.Errorf("runner received %q, want %q", got, c.sent)
			}
		})
	}
}

// A detached session returns once its probes are attached, having printed
// its name; stop then ends it the Ctrl-C way, and a second stop finds it
// ended.
func TestDetachThenStop(t *testing.T) {
	cl := cluster(kubetest.Script{Lines: []kubetest.Line{ready}, OnStop: []kubetest.Line{maps, result0}})
	req := request("BEGIN { }")
	req.Session.Attached = false
	var stdout, stderr syncbuf.Buffer
	readyNames := 0
	tr, err := Trace(context.Background(), cl.Clients("ns"), req, Streams{Out: &stdout, ErrOut: &stderr, OnReady: func(name string) {
		if strings.HasPrefix(name, "trace-debug-") {
			readyNames++
		}
	}})
	if err != nil || !tr.Detached() || readyNames != 1 {
		t.Fatalf("detach = %v, detached %v, ready hook %d times\n%s", err, tr.Detached(), readyNames, stderr.String())
	}
	if stdout.String() != tr.Name+"\n" {
		t.Fatalf("stdout = %q, want the session's name", stdout.String())
	}
	found, err := Find(context.Background(), cl.Clients("ns"), "web", tr.Name, Streams{ErrOut: &stderr})
	if err != nil {
		t.Fatal(err)
	}
	e, err := found.Stop(context.Background())
	if err != nil || e.ExitCode() != 0 {
		t.Fatalf("stop = %+v, %v", e, err)
	}
	if got := cl.Runner("ns", "web", tr.Name).Received(); len(got) != 1 || got[0] != protocol.Stop {
		t.Fatalf("runner received %q, want one stop", got)
	}
	again, _ := Find(context.Background(), cl.Clients("ns"), "web", tr.Name, Streams{ErrOut: &stderr})
	if _, err := again.Stop(context.Background()); !errors.Is(err, ErrEnded) {
		t.Fatalf("second stop = %v, want ErrEnded", err)
	}
	if _, err := Find(context.Background(), cl.Clients("ns"), "web", "nope", Streams{}); exit.Code(err) != exit.TargetNotFound {
		t.Fatalf("find an unknown session = %v", err)
	}
	if fix, ok := exit.FixOf(func() error {
		_, err := Find(context.Background(), cl.Clients("ns"), "web", "nope", Streams{})
		return err
	}()); !ok || fix.Command != exit.List {
		t.Fatalf("an unknown session's fix = %+v, %v; want the list command", fix, ok)
	}
}

// A detached session that ends before its probes are attached shows its
// output and returns its code.
func TestDetachEndsEarly(t *testing.T) {
	cl := cluster(kubetest.Script{Lines: []kubetest.Line{kubetest.Err("ERROR: syntax"), kubetest.Err(protocol.ResultLine(protocol.ExitProgramRejected))}, ExitAfterLines: true, ExitCode: protocol.ExitProgramRejected})
	req := request("BEGIN { ")
	req.Session.Attached = false
	var stdout, stderr syncbuf.Buffer
	tr, err := Trace(context.Background(), cl.Clients("ns"), req, Streams{Out: &stdout, ErrOut: &stderr})
	if exit.Code(err) != exit.ProgramRejected || tr.Detached() || !strings.Contains(stderr.String(), "ERROR: syntax") {
		t.Fatalf("Trace = %v, detached %v\n%s", err, tr.Detached(), stderr.String())
	}
}

// A program too large for the args travels on stdin, after hello.
func TestProgramOnStdin(t *testing.T) {
	cl := cluster(kubetest.Script{Lines: []kubetest.Line{ready, result0}, ExitAfterLines: true})
	program := "// " + strings.Repeat("c", protocol.MaxArgsProgram) + "\nBEGIN { exit(); }"
	req := request(program)
	req.Session.Program = ""
	req.Session.ProgramSize, req.Session.ProgramSHA256, req.Session.ProgramHead = protocol.ProgramOnStdin(program)
	var stderr syncbuf.Buffer
	tr, err := Trace(context.Background(), cl.Clients("ns"), req, Streams{Out: &syncbuf.Buffer{}, ErrOut: &stderr})
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	got := cl.Runner("ns", "web", tr.Name).Received()
	if len(got) != 2 || got[0] != protocol.ProgramLine+" "+strconv.Itoa(len(program)) || got[1] != program {
		t.Fatalf("runner received %.80q, want the program message", got)
	}
}

// Start refuses before injecting (a static pod), injects exactly one
// tracer with the session in its args when it may, and a dry run prints
// the patch and sends nothing.
func TestStart(t *testing.T) {
	cl := cluster(kubetest.Script{})
	var stdout, stderr syncbuf.Buffer
	tr, err := Start(context.Background(), cl.Clients("ns"), request("BEGIN { exit(); }"), Streams{Out: &stdout, ErrOut: &stderr})
	if err != nil || !tr.Injected() || tr.State.Running == nil {
		t.Fatalf("start = %+v, %v\n%s", tr, err, stderr.String())
	}
	patches := 0
	for _, a := range cl.Client.Actions() {
		if pa, ok := a.(k8stesting.PatchAction); ok {
			patches++
			if p := string(pa.GetPatch()); !strings.Contains(p, `"--program=BEGIN { exit(); }"`) || !strings.Contains(p, `"--container-id=web-app"`) || pa.GetSubresource() != "ephemeralcontainers" {
				t.Fatalf("the patch does not carry the session:\n%s", p)
			}
		}
	}
	if patches != 1 {
		t.Fatalf("%d patches, want 1", patches)
	}

	dry := request("BEGIN { }")
	dry.DryRun = true
	var patch syncbuf.Buffer
	if tr, err := Start(context.Background(), cl.Clients("ns"), dry, Streams{Out: &patch, ErrOut: &stderr}); tr != nil || err != nil || !strings.Contains(patch.String(), `"ephemeralContainers"`) {
		t.Fatalf("dry run = %v, %v\n%s", tr, err, patch.String())
	}

	static := kubetest.Pod("ns", "web", "app")
	static.Annotations = map[string]string{"kubernetes.io/config.mirror": "x"}
	cl = kubetest.New(func(string) kubetest.Script { return kubetest.Script{} }, static, kubetest.Namespace("ns"))
	if _, err := Start(context.Background(), cl.Clients("ns"), request("BEGIN { }"), Streams{Out: &stdout, ErrOut: &stderr}); exit.Code(err) != exit.UnsupportedPod {
		t.Fatalf("static pod: %v, want exit %d", err, exit.UnsupportedPod)
	}
	for _, a := range cl.Client.Actions() {
		if a.GetVerb() == "patch" {
			t.Fatal("a refused pod was patched")
		}
	}
	denied := cluster(kubetest.Script{})
	denied.Client.PrependReactor("create", "selfsubjectaccessreviews", kubetest.Allow("patch pods/ephemeralcontainers"))
	if _, err := Start(context.Background(), denied.Clients("ns"), request("BEGIN { }"), Streams{Out: &stdout, ErrOut: &stderr}); exit.Code(err) != exit.Forbidden {
		t.Fatalf("without the patch permission: %v, want exit %d", err, exit.Forbidden)
	}
}
