//go:build root

package runner

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
	"github.com/trace-debug/kubectl-trace-debug/internal/testgo"
)

// features are those of the bpftrace the tests run.
func features(t *testing.T) Features {
	t.Helper()
	f := DetectFeatures(tracer())
	if f.Version == "" {
		t.Fatalf("%s did not say its version", tracer())
	}
	return f
}

// runStopped runs a session to its end: hello, ready, act, stop.
func runStopped(t *testing.T, s protocol.Session, act func()) (*run, int) {
	t.Helper()
	r := startRunner(t, context.Background(), s)
	r.send(protocol.Hello)
	r.waitReady(t)
	act()
	r.send(protocol.Stop)
	return r, r.wait(t)
}

// TestScopedToTargetNamespace: the test's PID namespace stands for the pod.
// Processes in it are counted, in whatever mount namespace; a process in
// another PID namespace (a sibling pod of the same image) is not, unless
// --node-wide. Tracepoints, uprobes and profile probes alike.
func TestScopedToTargetNamespace(t *testing.T) {
	exe, err := testgo.Build(t.TempDir(), counterSource)
	if err != nil {
		t.Fatal(err)
	}
	program := fmt.Sprintf(`tracepoint:sched:sched_process_exec /comm == "true"/ { @execs = count(); }
uprobe:%s:"main.counterValue" { @calls = count(); }
profile:hz:499 /comm == "busy-pod" || comm == "busy-sibling"/ { @cpu[comm] = count(); }`, exe)
	act := func() {
		execTrue(t, 3)
		serve(t, exe, 2, "--mount")
		busy(t, "busy-pod", "--mount")
		for i := 0; i < 2; i++ {
			if out, err := exec.Command("unshare", "--pid", "--fork", "--mount", "/bin/true").CombinedOutput(); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
		}
		serve(t, exe, 3, "--pid", "--fork", "--mount")
		busy(t, "busy-sibling", "--pid", "--fork", "--mount")
	}
	for _, c := range []struct {
		nodeWide     bool
		execs, calls int
	}{{false, 3, 2}, {true, 5, 5}} {
		t.Run(fmt.Sprintf("node-wide=%v", c.nodeWide), func(t *testing.T) {
			r, code := runStopped(t, session(program, func(s *protocol.Session) { s.NodeWide = c.nodeWide }), act)
			if code != 0 {
				t.Fatalf("exit code %d\n%s", code, r.stderr)
			}
			out := r.stdout.String()
			for _, want := range []string{fmt.Sprintf("@calls: %d\n", c.calls), "@cpu[busy-pod]: "} {
				if !strings.Contains(out, want) {
					t.Errorf("want %q:\n%s", want, out)
				}
			}
			// Node-wide, other tests running on the machine exec /bin/true too.
			execs := -1
			if _, rest, ok := strings.Cut(out, "@execs: "); ok {
				fmt.Sscanf(rest, "%d", &execs)
			}
			if execs != c.execs && !(c.nodeWide && execs > c.execs) {
				t.Errorf("@execs = %d, want %d (node-wide: at least)\n%s", execs, c.execs, out)
			}
			if sibling := strings.Contains(out, "@cpu[busy-sibling]: "); sibling != c.nodeWide {
				t.Errorf("sibling's CPU samples counted: %v, want %v\n%s", sibling, c.nodeWide, out)
			}
			if said := strings.Contains(r.stderr.String(), "tracing node-wide"); said != c.nodeWide {
				t.Errorf("node-wide note on stderr: %v, want %v\n%s", said, c.nodeWide, r.stderr)
			}
		})
	}
}

// serve runs the counter target under unshare with args and has it serve n
// requests.
func serve(t *testing.T, exe string, n int, args ...string) {
	t.Helper()
	cmd := exec.Command("unshare", append(args, exe)...)
	cmd.Stdin = strings.NewReader(strings.Repeat("request\n", n))
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), fmt.Sprintf("served %d", n)) {
		t.Fatalf("target: %v\n%s", err, out)
	}
}

// busy burns CPU for a moment in a process named name, under unshare.
func busy(t *testing.T, name string, args ...string) {
	t.Helper()
	script := fmt.Sprintf(`printf %%s %s > /proc/self/comm; end=$(( $(date +%%s%%N) + 300000000 )); while [ $(date +%%s%%N) -lt $end ]; do :; done`, name)
	if out, err := exec.Command("unshare", append(args, "sh", "-c", script)...).CombinedOutput(); err != nil {
		t.Fatalf("busy: %v\n%s", err, out)
	}
}

const counterSource = `package main

import (
	"bufio"
	"fmt"
	"os"
)

var counter int

//go:noinline
func counterValue() int {
	counter++
	return counter
}

func main() {
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		fmt.Println("served", counterValue())
	}
}
`

// TestGoReturnProbeRewritten: the seed's uretprobe on a Go function prints
// each result in order, and the target lives on, stripped or not. A
// bpftrace without offset uprobes refuses it instead, naming --func.
func TestGoReturnProbeRewritten(t *testing.T) {
	f := features(t)
	for _, stripped := range []bool{false, true} {
		t.Run(fmt.Sprintf("stripped=%v", stripped), func(t *testing.T) {
			var flags []string
			if stripped {
				flags = append(flags, "-ldflags=-s -w")
			}
			exe, err := testgo.Build(t.TempDir(), counterSource, flags...)
			if err != nil {
				t.Fatal(err)
			}
			target := exec.Command("unshare", "--mount", exe)
			stdin, _ := target.StdinPipe()
			out := &strings.Builder{}
			target.Stdout = out
			if err := target.Start(); err != nil {
				t.Fatal(err)
			}
			program := fmt.Sprintf(`uretprobe:/proc/%d/exe:"main.counterValue" { printf("%%d\n", retval) }`, target.Process.Pid)
			r := startRunner(t, context.Background(), session(program, nil))
			r.send(protocol.Hello)
			if !f.OffsetUprobes {
				if code := r.wait(t); code != protocol.ExitUnsafeProgram || !strings.Contains(r.stderr.String(), "--func main.counterValue") {
					t.Fatalf("exit code %d, want ExitUnsafeProgram naming --func\n%s", code, r.stderr)
				}
				stdin.Close()
				_ = target.Wait()
				return
			}
			r.waitReady(t)
			for i := 1; i <= 3; i++ {
				fmt.Fprintln(stdin, "request")
				r.waitOutput(t, fmt.Sprintf("%d\n", i))
			}
			r.send(protocol.Stop)
			if code := r.wait(t); code != 0 {
				t.Fatalf("exit code %d\n%s", code, r.stderr)
			}
			if !strings.HasSuffix(r.stdout.String(), "1\n2\n3\n") && !strings.Contains(r.stdout.String(), "1\n2\n3\n") {
				t.Fatalf("want 1, 2, 3 in order:\n%s", r.stdout)
			}
			stdin.Close()
			if err := target.Wait(); err != nil || !strings.Contains(out.String(), "served 3") {
				t.Fatalf("the target did not live on: %v\n%s", err, out)
			}
			if strings.Contains(r.stderr.String(), "WARNING") {
				t.Fatalf("warnings on a healthy run:\n%s", r.stderr)
			}
		})
	}
}

// TestMapsBeforeDetach: with a dump probe, the seed's sys_enter_* program
// has printed its maps, and the runner its result line and closed its
// output, while bpftrace is still detaching its hundreds of probes.
func TestMapsBeforeDetach(t *testing.T) {
	if !features(t).SignalProbes {
		t.Skip("this bpftrace prints maps only after detaching")
	}
	alive := make(chan bool, 1)
	s := session(`tracepoint:syscalls:sys_enter_* { @[probe] = count(); }`, func(s *protocol.Session) { s.Duration = 2 * time.Second })
	r := startRunnerWith(t, context.Background(), s, func(o *Options) { o.CloseOutput = func() { alive <- tracerAlive() } })
	r.send(protocol.Hello)
	r.waitReady(t)
	execTrue(t, 3) // syscalls of the pod's processes; the stop comes from the duration
	if code := r.wait(t); code != 0 {
		t.Fatalf("exit code %d\n%s", code, r.stderr)
	}
	if !<-alive {
		t.Fatalf("bpftrace had exited before the output was closed: the maps waited for the detach")
	}
	out := r.stdout.String()
	if !strings.Contains(out, "@[tracepoint:syscalls:sys_enter_") || strings.Contains(out, "trace-debug-maps-printed") {
		t.Fatalf("want the maps once, without the marker:\n%s", out)
	}
	if strings.Count(out, "@[tracepoint:syscalls:sys_enter_read]") > 1 {
		t.Fatalf("maps printed twice:\n%s", out)
	}
	if !strings.Contains(r.stderr.String(), protocol.ResultLine(0)) || !strings.Contains(r.stderr.String(), "peak memory of bpftrace") {
		t.Fatalf("stderr:\n%s", r.stderr)
	}
	if strings.Contains(r.stderr.String(), "WARNING") || strings.Contains(r.stderr.String(), "ERROR") {
		t.Fatalf("environment noise on a healthy run:\n%s", r.stderr)
	}
}

// tracerAlive reports whether a bpftrace process of this test is running.
func tracerAlive() bool {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(b), "bpftrace") && !strings.Contains(string(b), "--version") {
			return true
		}
	}
	return false
}

// TestMemoryGuard: in a real memory cgroup limited to 64 MiB, made for the
// test below the test's own, bpftrace does not fit: the runner refuses with
// the numbers and the native alternative, and starts when told to insist.
func TestMemoryGuard(t *testing.T) {
	cg := testCgroup(t, 64<<20)
	sleeper := exec.Command("sleep", "60")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sleeper.Process.Kill(); _ = sleeper.Wait() }()
	if err := os.WriteFile(filepath.Join(cg, "cgroup.procs"), []byte(strconv.Itoa(sleeper.Process.Pid)), 0o644); err != nil {
		t.Fatal(err)
	}
	h, ok, err := MemoryHeadroom("/proc", sleeper.Process.Pid)
	if err != nil || !ok || h.Limit != 64<<20 || h.Cgroup != cg {
		t.Fatalf("MemoryHeadroom = %+v, %v, %v; want the 64 MiB limit of %s", h, ok, err, cg)
	}
	start := func(insist bool) *run {
		s := session(ticking, func(s *protocol.Session) { s.IgnoreMemoryLimit = insist })
		r := startRunnerWith(t, context.Background(), s, func(o *Options) { o.MemoryPID = sleeper.Process.Pid })
		r.send(protocol.Hello)
		return r
	}
	r := start(false)
	if code := r.wait(t); code != protocol.ExitMemory {
		t.Fatalf("exit code %d, want ExitMemory\n%s", code, r.stderr)
	}
	for _, want := range []string{"64 MiB", "--syscalls", "--ignore-memory-limit", cg} {
		if !strings.Contains(r.stderr.String(), want) {
			t.Errorf("refusal lacks %q:\n%s", want, r.stderr)
		}
	}
	r = start(true)
	r.waitOutput(t, "started\n")
	r.send(protocol.Stop)
	if code := r.wait(t); code != 0 {
		t.Fatalf("--ignore-memory-limit: exit code %d\n%s", code, r.stderr)
	}
}

// testCgroup makes a memory cgroup with the limit below the test process's
// own (v1 memory controller, or v2) and removes it at the end.
func testCgroup(t *testing.T, limit int) string {
	t.Helper()
	dir, v2, err := memoryCgroupDir("/proc", os.Getpid())
	if err != nil || dir == "" {
		t.Fatalf("no memory cgroup to nest a test cgroup in: %v", err)
	}
	cg := filepath.Join(dir, fmt.Sprintf("trace-debug-test-%d", os.Getpid()))
	if err := os.Mkdir(cg, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for i := 0; i < 50; i++ {
			if err := os.Remove(cg); err == nil || os.IsNotExist(err) {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Errorf("could not remove %s", cg)
	})
	file := "memory.limit_in_bytes"
	if v2 {
		file = "memory.max"
	}
	if err := os.WriteFile(filepath.Join(cg, file), []byte(strconv.Itoa(limit)), 0o644); err != nil {
		t.Fatal(err)
	}
	return cg
}

// estimateProbes expands tracepoint wildcards against the kernel's events:
// the seed's sys_enter_* is hundreds of probes, each needing memory.
func TestEstimateProbes(t *testing.T) {
	if err := HostKernel().MountTracing(); err != nil {
		t.Fatal(err)
	}
	events := HostKernel().EventsDir()
	if n := estimateProbes(`tracepoint:syscalls:sys_enter_* { @[probe] = count(); }`, events, false); n < 100 {
		t.Fatalf("sys_enter_* counted as %d probes", n)
	}
	if n := estimateProbes(`tracepoint:syscalls:sys_enter_* { @[probe] = count(); }`, events, true); n != 1 {
		t.Fatalf("sys_enter_* that the runner rewrites counted as %d probes, want 1", n)
	}
	if n := estimateProbes(`tracepoint:syscalls:sys_enter_* { @[args.fd] = count(); }`, events, true); n < 100 {
		t.Fatalf("sys_enter_* that the runner cannot rewrite counted as %d probes", n)
	}
	if n := estimateProbes(`BEGIN { } t:sched:sched_process_exec, uprobe:/bin/sh:main { }`, events, true); n != 3 {
		t.Fatalf("3 plain probes counted as %d", n)
	}
}
