package debug

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
	"github.com/trace-debug/kubectl-trace-debug/debug/exit"
	"github.com/trace-debug/kubectl-trace-debug/debug/kube"
	"github.com/trace-debug/kubectl-trace-debug/debug/kube/kubetest"
	"github.com/trace-debug/kubectl-trace-debug/internal/syncbuf"
)

// These tests run the commands as a user types them, against a fake
// cluster (kubetest) whose runners answer through the transport seam.

// result is what a command printed and how it exited.
type result struct {
	stdout, stderr string
	code           int
	err            error
}

// run runs `kubectl trace-debug args...` against clients; interrupts, when
// given, are the user's signals.
func run(t *testing.T, clients kube.Clients, interrupts chan os.Signal, args ...string) result {
	t.Helper()
	old := newClients
	t.Cleanup(func() { newClients = old })
	newClients = func(*genericclioptions.ConfigFlags) (kube.Clients, error) { return clients, nil }
	var stdout, stderr syncbuf.Buffer
	if interrupts == nil {
		interrupts = make(chan os.Signal)
	}
	cmd := NewCmdTraceDebug(genericiooptions.IOStreams{In: strings.NewReader(""), Out: &stdout, ErrOut: &stderr}, interrupts)
	cmd.SetArgs(args)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := cmd.ExecuteContext(ctx)
	return result{stdout.String(), stderr.String(), ExitCode(err), err}
}

var (
	readyLine = kubetest.Err(protocol.ReadyLine(1))
	result0   = kubetest.Err(protocol.ResultLine(0))
)

// web is a fake cluster with pods web (containers app and shell), a, b
// and c (app=web), whose new tracers follow script.
func web(script func(pod string) kubetest.Script) *kubetest.Cluster {
	return kubetest.New(script, kubetest.Pod("ns", "web", "app", "shell"), kubetest.Pod("ns", "a", "app"), kubetest.Pod("ns", "b", "app"),
		kubetest.Pod("ns", "c", "app"), kubetest.Namespace("ns"))
}

// ok runs to its maps and result.
func ok(string) kubetest.Script {
	return kubetest.Script{Lines: []kubetest.Line{readyLine, kubetest.Out(protocol.MapsLine), kubetest.Out("@calls: 2"), result0}, ExitAfterLines: true}
}

func TestTraceCommand(t *testing.T) {
	cl := web(ok)
	r := run(t, cl.Clients("ns"), nil, "pod/web", "-c", "app", "-e", "BEGIN { @calls = count(); }")
	if r.code != 0 || !strings.Contains(r.stdout, "@calls: 2") {
		t.Fatalf("trace: exit %d (%v)\n%s\n%s", r.code, r.err, r.stdout, r.stderr)
	}

	// Detached: the name at once, how to come back on stderr, the ready file.
	cl = web(func(string) kubetest.Script { return kubetest.Script{Lines: []kubetest.Line{readyLine}} })
	ready := filepath.Join(t.TempDir(), "ready")
	r = run(t, cl.Clients("ns"), nil, "pod/web", "-c", "app", "--detach", "--duration", "10s", "--ready-file", ready, "-e", "BEGIN { }")
	name := strings.TrimSpace(r.stdout)
	b, _ := os.ReadFile(ready)
	if r.code != 0 || !strings.HasPrefix(name, "trace-debug-") || strings.TrimSpace(string(b)) != name ||
		!strings.Contains(r.stderr, "or the end of its --duration 10s") || !strings.Contains(r.stderr, "`kubectl trace-debug stop pod/web "+name+"`") {
		t.Fatalf("detach: exit %d (%v), ready file %q\n%s\n%s", r.code, r.err, b, r.stdout, r.stderr)
	}

	// Refusals name the flag that fixes them.
	r = run(t, cl.Clients("ns"), nil, "pod/web", "-e", "BEGIN { }")
	if r.code != ExitUsage || !strings.Contains(r.stderr+r.err.Error(), "has 2 containers (app, shell); choose one with -c CONTAINER") {
		t.Fatalf("two containers: exit %d (%v)", r.code, r.err)
	}
	r = run(t, cl.Clients("ns"), nil, "-l", "app=web", "--max-pods", "2", "-e", "BEGIN { }")
	if r.code != ExitUsage || !strings.Contains(r.err.Error(), "resolve -l app=web: it matches 4 running pods, more than --max-pods 2") || !strings.Contains(r.err.Error(), "raise --max-pods") {
		t.Fatalf("too many pods: exit %d (%v)", r.code, r.err)
	}
	r = run(t, cl.Clients("ns"), nil, "-l", "app=web", "--dry-run", "-e", "BEGIN { }")
	if r.code != ExitUsage || !strings.Contains(r.err.Error(), "--dry-run takes one pod") {
		t.Fatalf("dry run over pods: exit %d (%v)", r.code, r.err)
	}
	r = run(t, cl.Clients("ns"), nil, "pod/web", "-c", "app", "--dry-run", "-e", "BEGIN { }")
	if r.code != 0 || !strings.Contains(r.stdout, `"ephemeralContainers"`) {
		t.Fatalf("dry run: exit %d (%v)\n%s", r.code, r.err, r.stdout)
	}
}

// Every command over several pods follows one rule: when some pods fail,
// each pod's outcome is on stderr and the command exits 13.
func TestCommandsOverPodsOneFails(t *testing.T) {
	unreachable := errors.New("kubelet unreachable")
	// A trace where pod b refuses the program.
	cl := web(func(pod string) kubetest.Script {
		if pod == "b" {
			return kubetest.Script{Lines: []kubetest.Line{kubetest.Err("ERROR: nope"), kubetest.Err(protocol.ResultLine(protocol.ExitProgramRejected))}, ExitAfterLines: true, ExitCode: protocol.ExitProgramRejected}
		}
		return ok(pod)
	})
	r := run(t, cl.Clients("ns"), nil, "-l", "app=web", "-e", "BEGIN { @calls = count(); }")
	if r.code != ExitPartial || !strings.Contains(r.stderr, "[b] session") || !strings.Contains(r.stdout, "@calls: 4") {
		t.Fatalf("trace: exit %d (%v), want %d with b's failure and a+c's merged maps\n%s\n%s", r.code, r.err, ExitPartial, r.stdout, r.stderr)
	}

	// A session in a, b and c, with b's node unreachable.
	sessions := func(s kubetest.Script) *kubetest.Cluster {
		cl := web(ok)
		for _, p := range []string{"a", "b", "c"} {
			ps := s
			if p == "b" {
				ps.Unreachable = unreachable
			}
			if _, err := cl.AddSession("ns", p, "trace-debug-x", "BEGIN { @calls = count(); }", ps); err != nil {
				t.Fatal(err)
			}
		}
		return cl
	}
	running := kubetest.Script{Lines: []kubetest.Line{readyLine}, OnStop: []kubetest.Line{kubetest.Out(protocol.MapsLine), kubetest.Out("@calls: 2"), result0}}
	ended := kubetest.Script{Lines: []kubetest.Line{readyLine, kubetest.Out(protocol.MapsLine), kubetest.Out("@calls: 2"), result0}, ExitAfterLines: true}
	for _, c := range []struct {
		args   []string
		script kubetest.Script
	}{
		{[]string{"stop", "-l", "app=web", "trace-debug-x"}, running},
		{[]string{"logs", "-l", "app=web", "trace-debug-x"}, running},
		{[]string{"attach", "-l", "app=web", "trace-debug-x"}, ended},
	} {
		t.Run(c.args[0], func(t *testing.T) {
			cl := sessions(c.script)
			r := run(t, cl.Clients("ns"), nil, c.args...)
			if r.code != ExitPartial || !strings.Contains(r.stderr, "[b] session trace-debug-x: ") || !strings.Contains(r.stderr, "kubelet unreachable") {
				t.Fatalf("%s: exit %d (%v), want %d naming b\n%s\n%s", c.args[0], r.code, r.err, ExitPartial, r.stdout, r.stderr)
			}
			if c.args[0] == "stop" {
				for _, p := range []string{"a", "c"} {
					if got := cl.Runner("ns", p, "trace-debug-x").Received(); len(got) != 1 || got[0] != protocol.Stop {
						t.Errorf("pod %s received %q, want a stop", p, got)
					}
				}
			}
			if c.args[0] == "attach" && !strings.Contains(r.stdout, "@calls: 4") {
				t.Errorf("attach: want a and c's maps merged:\n%s", r.stdout)
			}
		})
	}
}

// The lower layers name a fix; this layer words it with its flags and
// subcommands.
func TestFixWords(t *testing.T) {
	for _, c := range []struct {
		fix  exit.Fix
		want string
	}{
		{exit.Fix{Setting: exit.Container}, "choose one with -c CONTAINER"},
		{exit.Fix{Setting: exit.RunnerImage}, "(--image)"},
		{exit.Fix{Setting: exit.MatchingImage}, "--image with the image of version " + Version()},
		{exit.Fix{Setting: exit.Deadline}, "--deadline"},
		{exit.Fix{Setting: exit.StartTimeout}, "raise --start-timeout"},
		{exit.Fix{Setting: exit.Target}, "-l SELECTOR"},
		{exit.Fix{Setting: exit.Credentials}, "--kubeconfig"},
		{exit.Fix{Command: exit.List, Pod: "web"}, "`kubectl trace-debug list pod/web`"},
		{exit.Fix{Command: exit.List}, "`kubectl trace-debug list`"},
		{exit.Fix{Command: exit.Stop, Pod: "web", Session: "s", Detached: true, Deadline: time.Hour, Duration: time.Minute}, "at its deadline (1h0m0s) or the end of its --duration 1m0s, or with `kubectl trace-debug stop pod/web s`"},
		{exit.Fix{Command: exit.Resume, Pod: "web", Session: "s"}, "`kubectl trace-debug attach pod/web s`"},
	} {
		err := explain(exit.Fixf(exit.Usage, c.fix, "cause"))
		if ExitCode(err) != ExitUsage || !strings.HasPrefix(err.Error(), "cause; ") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("fix %+v: %v (code %d), want %q", c.fix, err, ExitCode(err), c.want)
		}
	}
	plain := errors.New("plain")
	if explain(plain) != plain || explain(nil) != nil {
		t.Error("an error without a fix must pass unchanged")
	}
}

// Ctrl-C while the tracer is starting ends the command at once, exit 130,
// naming the tracer left in the pod.
func TestInterruptWhileStarting(t *testing.T) {
	cl := web(func(string) kubetest.Script { return kubetest.Script{Pending: true} }) // it never starts
	interrupts := make(chan os.Signal, 1)
	go func() {
		for len(cl.Runners()) == 0 {
			time.Sleep(10 * time.Millisecond)
		}
		interrupts <- os.Interrupt
	}()
	r := run(t, cl.Clients("ns"), interrupts, "pod/a", "--detach", "-e", "BEGIN { }")
	if r.code != ExitInterrupted || !strings.Contains(r.err.Error(), "was added to pod ns/a and runs detached") || !strings.Contains(r.err.Error(), "`kubectl trace-debug stop pod/a ") {
		t.Fatalf("exit %d (%v), want %d naming the tracer left and how to stop it", r.code, r.err, ExitInterrupted)
	}
}

// list reads the sessions from the pods; stop of an ended or unknown
// session sends nothing.
func TestListAndStop(t *testing.T) {
	cl := web(ok)
	if _, err := cl.AddSession("ns", "web", "trace-debug-a", "BEGIN { }", kubetest.Script{Lines: []kubetest.Line{readyLine, result0}, ExitAfterLines: true}); err != nil {
		t.Fatal(err)
	}
	r := run(t, cl.Clients("ns"), nil, "list", "-o", "wide")
	if r.code != 0 || !strings.Contains(r.stdout, "trace-debug-a") || !strings.Contains(r.stdout, "BEGIN { }") {
		t.Fatalf("list: exit %d (%v)\n%s", r.code, r.err, r.stdout)
	}
	r = run(t, cl.Clients("ns"), nil, "list", "pod/web", "-o", "json")
	if r.code != 0 || !strings.Contains(r.stdout, `"session": "trace-debug-a"`) {
		t.Fatalf("list pod/web: exit %d (%v)\n%s", r.code, r.err, r.stdout)
	}
	r = run(t, cl.Clients("ns"), nil, "stop", "pod/web", "trace-debug-a")
	if r.code != 0 || !strings.Contains(r.stderr, "not running (Completed)") {
		t.Fatalf("stop of an ended session: exit %d (%v)\n%s", r.code, r.err, r.stderr)
	}
	r = run(t, cl.Clients("ns"), nil, "stop", "pod/web", "nope")
	if r.code != ExitTargetNotFound || !strings.Contains(r.err.Error(), "`kubectl trace-debug list pod/web`") {
		t.Fatalf("stop of an unknown session: exit %d (%v)", r.code, r.err)
	}
	if got := cl.Runner("ns", "web", "trace-debug-a").Received(); len(got) != 0 {
		t.Fatalf("stop sent %q", got)
	}
	r = run(t, cl.Clients("ns"), nil, "logs", "pod/web", "trace-debug-a")
	if r.code != 0 || !strings.Contains(r.stdout, protocol.ResultLine(0)) {
		t.Fatalf("logs: exit %d (%v)\n%s", r.code, r.err, r.stdout)
	}
}

// Doctor reports preflight's own checks, the pod's and the node's; a
// missing permission fails with the trace's own exit code.
func TestDoctor(t *testing.T) {
	cl := web(ok)
	p, _ := cl.Clients("ns").Pod(context.Background(), "a")
	p.Spec.NodeName = "n1"
	node := &corev1.Node{}
	node.Name = "n1"
	node.Status.NodeInfo = corev1.NodeSystemInfo{OperatingSystem: "linux", Architecture: "amd64", KernelVersion: "6.1.0"}
	node.Status.Images = []corev1.ContainerImage{{Names: []string{"runner:1"}}}
	_, _ = cl.Client.CoreV1().Pods("ns").Update(context.Background(), p, metav1.UpdateOptions{})
	_, _ = cl.Client.CoreV1().Nodes().Create(context.Background(), node, metav1.CreateOptions{})
	o := &DoctorOptions{SubcommandOptions: SubcommandOptions{PodName: "a", Clients: cl.Clients("ns")}, Image: "runner:1"}
	results := map[string]string{}
	for _, c := range o.doctor(context.Background()) {
		results[c.Name] = c.Result
	}
	for _, name := range []string{"permissions", "pod security", "pod", "node", "image"} {
		if results[name] != "ok" {
			t.Errorf("check %s = %q, want ok (all: %v)", name, results[name], results)
		}
	}
	cl.Client.PrependReactor("create", "selfsubjectaccessreviews", kubetest.Allow("patch pods/ephemeralcontainers"))
	for _, c := range o.doctor(context.Background()) {
		if c.Name == "permissions" && (c.Result != "fail" || c.code != ExitForbidden || !strings.Contains(c.Detail, "pods/ephemeralcontainers")) {
			t.Errorf("permissions check without the patch verb = %+v", c)
		}
	}
	r := run(t, cl.Clients("ns"), nil, "doctor", "pod/a", "--image", "runner:1")
	if r.code != ExitForbidden || !strings.Contains(r.stdout, "CHECK") {
		t.Fatalf("doctor: exit %d (%v)\n%s", r.code, r.err, r.stdout)
	}
}
