package debug

import (
	"bytes"
	"strings"
	"testing"

	"github.com/trace-debug/kubectl-trace-debug/bpf/goroutines"
	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
	"github.com/trace-debug/kubectl-trace-debug/bpf/stacks"
	"github.com/trace-debug/kubectl-trace-debug/debug/kube/kubetest"
)

// dumper is a fake runner that answers as the goroutine dump does: the
// maps line, then a dump of 1000 goroutines in main.worker and 2 asleep.
func dumper(string) kubetest.Script {
	d := &goroutines.Dump{}
	d.Add(goroutines.Group{Count: 1000, State: "chan receive", Process: "server",
		Frames: []stacks.Frame{{Func: "runtime.gopark"}, {Func: "main.worker", File: "/app/main.go", Line: 12}, {Func: "runtime.goexit"}}})
	d.Add(goroutines.Group{Count: 2, State: "sleep", Process: "server", Frames: []stacks.Frame{{Func: "time.Sleep"}, {Func: "main.sleeper"}, {Func: "runtime.goexit"}}})
	var b bytes.Buffer
	_ = goroutines.Write(&b, d)
	return kubetest.Script{Lines: []kubetest.Line{readyLine, kubetest.Out(protocol.MapsLine), kubetest.Out(strings.TrimSpace(b.String())), result0}, ExitAfterLines: true}
}

// --goroutines shows the dump, merges a workload's pods, and its counts
// are what --assert reads: a leak fails the run.
func TestGoroutinesCommand(t *testing.T) {
	cl := web(dumper)
	r := run(t, cl.Clients("ns"), nil, "pod/a", "--goroutines")
	if r.code != 0 || !strings.Contains(r.stdout, "goroutine profile: total 1002\n") || !strings.Contains(r.stdout, "1000 @ chan receive [server]\n#\truntime.gopark\n#\tmain.worker\t/app/main.go:12\n") {
		t.Fatalf("--goroutines: exit %d (%v)\n%s\n%s", r.code, r.err, r.stdout, r.stderr)
	}
	r = run(t, cl.Clients("ns"), nil, "-l", "app=web", "-c", "app", "--goroutines", "--assert", `@goroutines["main.worker"] < 100`, "--assert", `@states["sleep"] == 8`)
	if r.code != ExitAssertFailed || !strings.Contains(r.stdout, "goroutine profile: total 4008\n") || !strings.Contains(r.stderr, `saw @goroutines = {"main.sleeper": 8, "main.worker": 4000}`) ||
		!strings.Contains(r.stderr, `assertion @states["sleep"] == 8 held`) {
		t.Fatalf("-l --goroutines --assert: exit %d (%v), want %d\n%s\n%s", r.code, r.err, ExitAssertFailed, r.stdout, r.stderr)
	}
	r = run(t, cl.Clients("ns"), nil, "pod/a", "--goroutines", "-o", "json")
	if d, err := goroutines.Read(r.stdout); r.code != 0 || err != nil || d.Total != 1002 {
		t.Fatalf("-o json: exit %d, %v\n%s", r.code, err, r.stdout)
	}
	// A pod with no Go process to read: exit 17, nothing on stdout.
	cl = web(func(string) kubetest.Script {
		return kubetest.Script{Lines: []kubetest.Line{readyLine, kubetest.Err(protocol.RunnerPrefix + "process 1 (bash) is not Go: it has no goroutines to read"),
			kubetest.Err(protocol.ResultLine(protocol.ExitNoGoProcess))}, ExitAfterLines: true, ExitCode: protocol.ExitNoGoProcess}
	})
	r = run(t, cl.Clients("ns"), nil, "pod/a", "--goroutines")
	if r.code != 17 || r.stdout != "" || !strings.Contains(r.err.Error(), "no Go process of the target could be read") {
		t.Fatalf("no Go process: exit %d (%v), want 17\n%s", r.code, r.err, r.stdout)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--detach"}, "nothing to detach"},
		{[]string{"-o", "svg"}, "text, json or pprof"},
		{[]string{"--assert", `@goroutine["x"] > 1`}, "@goroutine"},
	} {
		r = run(t, cl.Clients("ns"), nil, append([]string{"pod/a", "--goroutines"}, c.args...)...)
		if r.code != ExitUsage || !strings.Contains(r.err.Error(), c.want) {
			t.Errorf("%v: exit %d (%v), want %d naming %q", c.args, r.code, r.err, ExitUsage, c.want)
		}
	}
}
