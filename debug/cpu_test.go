package debug

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
	"github.com/trace-debug/kubectl-trace-debug/bpf/stacks"
	"github.com/trace-debug/kubectl-trace-debug/debug/kube/kubetest"
)

func TestValidateCPU(t *testing.T) {
	for _, c := range []struct {
		name   string
		mutate func(*TraceOptions)
		msg    string
		format string
	}{
		{"alone", func(*TraceOptions) {}, "", "top"},
		{"svg", func(o *TraceOptions) { o.OutputFormat = "svg" }, "", "svg"},
		{"with a program", func(o *TraceOptions) { o.Program = "BEGIN { }" }, "give one of", ""},
		{"no rate", func(o *TraceOptions) { o.Hz = 0 }, "--hz must be 1 to 1000", ""},
		{"too fast", func(o *TraceOptions) { o.Hz = 5000 }, "--hz must be 1 to 1000", ""},
		{"detached", func(o *TraceOptions) { o.Detach = true }, "--cpu and --wall need an attached session", ""},
		{"unknown output", func(o *TraceOptions) { o.OutputFormat = "xml" }, "top, svg, pprof, folded, json", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := NewTraceOptions(genericStreams())
			o.CPU = true
			c.mutate(o)
			err := o.Validate()
			if c.msg == "" && (err != nil || o.profileFormat() != c.format) || c.msg != "" && (ExitCode(err) != ExitUsage || !strings.Contains(err.Error(), c.msg)) {
				t.Fatalf("Validate = %v (format %q), want %q", err, o.profileFormat(), c.msg+c.format)
			}
		})
	}
	o := NewTraceOptions(genericStreams())
	o.CPU = true
	if s := o.session(""); s.CPUHz != 99 || !s.Native() || s.JSON {
		t.Fatalf("the runner's session: %+v", s)
	}
	o = NewTraceOptions(genericStreams())
	o.Wall, o.Hz, o.OutputFormat = true, defaultWallHz, "json"
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	if s := o.session(""); s.WallHz != defaultWallHz || s.CPUHz != 0 || s.Engine() != protocol.EngineWall || !s.Native() || s.JSON {
		t.Fatalf("--wall's session: %+v", s)
	}
}

// profiler is a fake runner that answers as the CPU engine does: its
// talk, the maps line, then the profile of a process 70% in main.hot.
func profiler(string) kubetest.Script {
	var b bytes.Buffer
	_ = stacks.Write(&b, &stacks.Profile{Hz: 99, CPUs: 2, Duration: time.Second, Stacks: []stacks.Stack{
		{Frames: []stacks.Frame{{Func: "main.hot"}, {Func: "main.main"}}, Count: 7, Process: "server"},
		{Frames: []stacks.Frame{{Func: "main.warm"}, {Func: "main.main"}}, Count: 3, Process: "server"},
	}})
	lines := []kubetest.Line{readyLine, kubetest.Out("Sampling the on-CPU stacks..."), kubetest.Out(protocol.MapsLine)}
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		lines = append(lines, kubetest.Out(l))
	}
	return kubetest.Script{Lines: append(lines, result0), ExitAfterLines: true}
}

// --cpu shows the profile as -o says, on stdout alone; over several pods
// the profiles merge, each pod's stacks under its own frame with --per-pod.
func TestCPUCommand(t *testing.T) {
	cl := web(profiler)
	r := run(t, cl.Clients("ns"), nil, "pod/a", "--cpu", "--duration", "2s")
	if r.code != 0 || !strings.Contains(r.stdout, "70.0%") || !strings.Contains(r.stdout, "main.hot") || strings.Contains(r.stdout, "Sampling") || !strings.Contains(r.stderr, "Sampling") {
		t.Fatalf("--cpu: exit %d (%v)\nstdout:\n%s\nstderr:\n%s", r.code, r.err, r.stdout, r.stderr)
	}
	r = run(t, cl.Clients("ns"), nil, "-l", "app=web", "-c", "app", "--cpu", "-o", "folded", "--per-pod")
	for _, want := range []string{"a;main.main;main.hot 7\n", "web;main.main;main.warm 3\n"} {
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Fatalf("-l --cpu -o folded --per-pod: exit %d (%v), want %q\n%s\n%s", r.code, r.err, want, r.stdout, r.stderr)
		}
	}
	if strings.Contains(r.stdout, "Sampling") || !strings.Contains(r.stderr, "profiles of 4 pods merged") {
		t.Fatalf("the runners' talk belongs on stderr\nstdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
	r = run(t, cl.Clients("ns"), nil, "pod/a", "--cpu", "-o", "json")
	if r.code != 0 || !strings.Contains(r.stdout, `"self_percent": 70`) {
		t.Fatalf("-o json: exit %d (%v)\n%s", r.code, r.err, r.stdout)
	}
}
