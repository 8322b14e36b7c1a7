package debug

import (
	"bytes"
	"strings"
	"testing"

	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
	"github.com/trace-debug/kubectl-trace-debug/bpf/stacks"
	"github.com/trace-debug/kubectl-trace-debug/debug/kube/kubetest"
)

// heaper is a fake runner that answers as the heap engine does: the maps
// line, then a memory profile holding 64 MiB in main.cache.
func heaper(string) kubetest.Script {
	var b bytes.Buffer
	_ = stacks.Write(&b, &stacks.Profile{Heap: &stacks.Heap{Rate: 512 * 1024}, Stacks: []stacks.Stack{
		{Frames: []stacks.Frame{{Func: "main.cache"}, {Func: "main.main"}}, Count: 64 << 20, Values: []int64{64, 64 << 20, 64, 64 << 20}, Process: "server"},
		{Frames: []stacks.Frame{{Func: "main.churn"}}, Count: 0, Values: []int64{1000, 512000, 0, 0}, Process: "server"},
	}})
	lines := []kubetest.Line{readyLine, kubetest.Out(protocol.MapsLine)}
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		lines = append(lines, kubetest.Out(l))
	}
	return kubetest.Script{Lines: append(lines, result0), ExitAfterLines: true}
}

// --heap shows the memory profile; over several pods the profiles merge,
// their bytes adding up, and @inuse_bytes reads the merged bytes by
// function for --assert; --heap and --alloc together, or detached, are
// refused.
func TestHeapCommand(t *testing.T) {
	cl := web(heaper)
	r := run(t, cl.Clients("ns"), nil, "pod/a", "--heap")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "64.0 MiB in use") || !strings.Contains(r.stdout, "main.cache") {
		t.Fatalf("--heap: exit %d (%v)\nstdout:\n%s\nstderr:\n%s", r.code, r.err, r.stdout, r.stderr)
	}
	r = run(t, cl.Clients("ns"), nil, "-l", "app=web", "-c", "app", "--heap", "--assert", `@inuse_bytes["main.cache"] < 100000000`)
	if r.code != 14 || !strings.HasPrefix(r.stdout, "256.0 MiB in use") || !strings.Contains(r.stderr, `"main.cache": 268435456`) {
		t.Fatalf("four pods' --heap with a budget: exit %d (%v), want 14 and their 4 × 64 MiB\nstdout:\n%s\nstderr:\n%s", r.code, r.err, r.stdout, r.stderr)
	}
	for _, args := range [][]string{{"--heap", "--alloc"}, {"--heap", "--detach"}, {"--alloc", "-o", "text-ish"}} {
		if r := run(t, cl.Clients("ns"), nil, append([]string{"pod/a"}, args...)...); r.code != ExitUsage {
			t.Errorf("%v: exit %d, want %d (usage)\n%s", args, r.code, ExitUsage, r.stderr)
		}
	}
}
