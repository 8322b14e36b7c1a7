//go:build root

package runner

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
	"github.com/trace-debug/kubectl-trace-debug/internal/syncbuf"
)

// These tests run the real runner with the real bpftrace, as root. TestMain
// first re-runs the test binary as a container would see the world: in a
// private mount namespace (the tracefs mounts never touch the machine's) and
// a PID namespace of its own, where the test process is PID 1, the target.
func TestMain(m *testing.M) {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "bpf/runner tests load real eBPF programs: run them as root")
		os.Exit(1)
	}
	if os.Getenv("RUNNER_TEST_MOUNT_NS") == "" {
		cmd := exec.Command("unshare", append([]string{"--mount", "--propagation", "private", "--pid", "--fork", "--mount-proc", os.Args[0]}, os.Args[1:]...)...)
		cmd.Env = append(os.Environ(), "RUNNER_TEST_MOUNT_NS=1")
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			if ee, ok := err.(*exec.ExitError); ok {
				os.Exit(ee.ExitCode())
			}
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// tracer is the bpftrace the tests run: $TRACE_DEBUG_BPFTRACE (make test
// runs them with the runner image's and with Debian 12's), or bpftrace.
func tracer() string {
	if t := os.Getenv("TRACE_DEBUG_BPFTRACE"); t != "" {
		return t
	}
	return "bpftrace"
}

type run struct {
	stdin          *io.PipeWriter
	stdout, stderr *syncbuf.Buffer
	code           chan int
}

func startRunner(t *testing.T, ctx context.Context, s protocol.Session) *run {
	t.Helper()
	return startRunnerWith(t, ctx, s, nil)
}

// startRunnerWith starts the runner with options changed by mutate.
func startRunnerWith(t *testing.T, ctx context.Context, s protocol.Session, mutate func(*Options)) *run {
	t.Helper()
	in, w := io.Pipe()
	r := &run{stdin: w, stdout: &syncbuf.Buffer{}, stderr: &syncbuf.Buffer{}, code: make(chan int, 1)}
	o := Options{
		Session: s, Stdin: in, Stdout: r.stdout, Stderr: r.stderr,
		Kernel: HostKernel(), ProcRoot: "/proc", Tracer: tracer(), StopGrace: 30 * time.Second, // generous: a loaded CI machine
	}
	if mutate != nil {
		mutate(&o)
	}
	go func() { r.code <- Run(ctx, o) }()
	t.Cleanup(func() { w.Close() })
	return r
}

func (r *run) send(line string) { _, _ = io.WriteString(r.stdin, line+"\n") }

func (r *run) wait(t *testing.T) int {
	t.Helper()
	select {
	case c := <-r.code:
		return c
	case <-time.After(60 * time.Second):
		t.Fatalf("runner did not return\nstdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
	return -1
}

func (r *run) waitOutput(t *testing.T, want string) {
	t.Helper()
	r.waitIn(t, r.stdout, want)
}

// waitReady waits for the runner's ready line: the probes are attached.
func (r *run) waitReady(t *testing.T) {
	t.Helper()
	r.waitIn(t, r.stderr, protocol.ReadyPrefix)
}

func (r *run) waitIn(t *testing.T, buf *syncbuf.Buffer, want string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if strings.Contains(buf.String(), want) {
			return
		}
	}
	t.Fatalf("no %q yet\nstdout:\n%s\nstderr:\n%s", want, r.stdout, r.stderr)
}

// execTrue runs /bin/true n times: n execve calls by this test's process
// tree. Each runs in a mount namespace of its own, as the target's processes
// do: the runner leaves out its own (a tracer container's) mount namespace.
func execTrue(t *testing.T, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if err := exec.Command("unshare", "--mount", "/bin/true").Run(); err != nil {
			t.Fatal(err)
		}
	}
}

func session(program string, mutate func(*protocol.Session)) protocol.Session {
	s := protocol.DefaultSession()
	s.Program = program
	s.Attached = true
	if mutate != nil {
		mutate(&s)
	}
	return s
}

// ticking has its map from the start, so a stop right after "started" still
// has maps to print.
const ticking = `BEGIN { @ticks = count(); printf("started\n"); } interval:ms:50 { @ticks = count(); }`

// endings: each way a session ends stops bpftrace the Ctrl-C way, so its
// maps are printed, and the runner says why.
func TestSessionEndings(t *testing.T) {
	for _, c := range []struct {
		name   string
		mutate func(*protocol.Session)
		act    func(ctx context.CancelFunc, r *run)
		why    string
	}{
		{"stop line", nil, func(_ context.CancelFunc, r *run) { r.send(protocol.Stop) }, ""},
		{"client went away", nil, func(_ context.CancelFunc, r *run) { r.stdin.Close() }, "the client went away"},
		{"signal", nil, func(cancel context.CancelFunc, _ *run) { cancel() }, ""},
		{"client silent", func(s *protocol.Session) { s.IdleTimeout = 3 * time.Second }, func(context.CancelFunc, *run) {}, "no word from the client for 3s"},
		{"duration", func(s *protocol.Session) { s.Duration = 3 * time.Second }, func(context.CancelFunc, *run) {}, ""},
		{"deadline", func(s *protocol.Session) { s.Deadline = 3 * time.Second }, func(context.CancelFunc, *run) {}, "deadline (3s, "},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			r := startRunner(t, ctx, session(ticking, c.mutate))
			r.send(protocol.Hello)
			r.waitOutput(t, "started\n")
			c.act(cancel, r)
			if code := r.wait(t); code != 0 {
				t.Fatalf("exit code %d\n%s", code, r.stderr)
			}
			if !strings.Contains(r.stdout.String(), "@ticks: ") {
				t.Fatalf("maps not printed:\n%s", r.stdout)
			}
			if c.why != "" && !strings.Contains(r.stderr.String(), c.why) {
				t.Fatalf("stderr lacks %q:\n%s", c.why, r.stderr)
			}
		})
	}
}

// A program in the args starts before the client's hello (bpftrace's slow
// start overlaps the client's attach), but nothing of it is written until
// the hello: then all of it, in order.
func TestNoOutputBeforeHello(t *testing.T) {
	r := startRunner(t, context.Background(), session(ticking, nil))
	deadline := time.Now().Add(30 * time.Second)
	for len(childPIDs(t)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the tracer did not start before the client's hello")
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(time.Second)
	if out, errOut := r.stdout.String(), r.stderr.String(); out != "" || errOut != "" {
		t.Fatalf("output before the client said hello:\nstdout %q\nstderr %q", out, errOut)
	}
	r.send(protocol.Hello)
	r.waitOutput(t, "started\n")
	r.waitReady(t)
	r.send(protocol.Stop)
	r.wait(t)
	if !strings.HasPrefix(r.stderr.String(), protocol.TracerVersionPrefix) {
		t.Fatalf("the held stderr did not come first and whole:\n%s", r.stderr)
	}
}

// childPIDs lists the test process's children: the tracers the runner,
// which runs in the test process, started.
func childPIDs(t *testing.T) []int {
	t.Helper()
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so read after ')'.
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(os.Getpid()) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func TestNoClient(t *testing.T) {
	r := startRunner(t, context.Background(), session(ticking, func(s *protocol.Session) { s.HelloTimeout = 300 * time.Millisecond }))
	if code := r.wait(t); code != protocol.ExitNoClient {
		t.Fatalf("exit code %d, want ExitNoClient", code)
	}
	if r.stdout.String() != "" {
		t.Fatalf("tracer output without a client: %s", r.stdout)
	}
}

func TestProgramRejected(t *testing.T) {
	for name, program := range map[string]string{
		"syntax error":  `BEGIN { printf("x" }`,
		"unknown probe": `tracepoint:nope:nope { }`,
	} {
		t.Run(name, func(t *testing.T) {
			r := startRunner(t, context.Background(), session(program, nil))
			r.send(protocol.Hello)
			if code := r.wait(t); code != protocol.ExitProgramRejected {
				t.Fatalf("exit code %d, want ExitProgramRejected\n%s", code, r.stderr)
			}
			if !strings.Contains(r.stderr.String(), "before its probes were attached") {
				t.Fatalf("stderr does not say why:\n%s", r.stderr)
			}
		})
	}
}

// A tracer that ends by itself after attaching keeps its own exit code.
func TestTracerExitsByItself(t *testing.T) {
	r := startRunner(t, context.Background(), session(`BEGIN { printf("started\n"); } interval:ms:100 { exit(); }`, nil))
	r.send(protocol.Hello)
	if code := r.wait(t); code != 0 {
		t.Fatalf("exit code %d, want bpftrace's 0\n%s", code, r.stderr)
	}
}

// A session whose client reads the final maps gets the maps line right
// before them whichever way the program ends: stopped (the dump probe, or
// SIGINT on a bpftrace without one), or by its own exit(), with or without
// an END probe of its own, whose output comes first.
func TestMapsLineHoweverItEnds(t *testing.T) {
	for _, c := range []struct {
		name, program string
		stop          bool
	}{
		{"stopped", ticking, true},
		{"stopped, with an END", ticking + ` END { printf("bye\n"); }`, true},
		{"ends itself", `BEGIN { @ticks = count(); printf("started\n"); } interval:ms:200 { exit(); }`, false},
		{"ends itself, with an END", `BEGIN { @ticks = count(); printf("started\n"); } interval:ms:200 { exit(); } END { printf("bye\n") } // the end`, false},
		{"ends itself, its END shared with a timer", `BEGIN { @ticks = count(); printf("started\n"); } END, interval:ms:50 { @n = count(); } interval:ms:300 { exit(); }`, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := startRunner(t, context.Background(), session(c.program, func(s *protocol.Session) { s.MarkMaps = true }))
			r.send(protocol.Hello)
			r.waitOutput(t, "started\n")
			if c.stop {
				r.send(protocol.Stop)
			}
			if code := r.wait(t); code != 0 {
				t.Fatalf("exit code %d\n%s", code, r.stderr)
			}
			out := r.stdout.String()
			at, maps := strings.Index(out, protocol.MapsLine), strings.Index(out, "@ticks: ")
			if at < 0 || maps < at || strings.Count(out, protocol.MapsLine) != 1 || strings.Contains(out, "bye") && strings.Index(out, "bye") > at {
				t.Fatalf("want one maps line, after the END's output and before the maps:\n%s\n%s", out, r.stderr)
			}
		})
	}
}

// The program's own exit(N) is reported as the program's: the runner's
// code for it, N on the result line, never one of the runner's meanings.
func TestProgramsOwnExitCode(t *testing.T) {
	if compareVersions(parseVersion(DetectFeatures(tracer()).Version), []int{0, 21}) < 0 { // exit(N) came in 0.21
		t.Skipf("%s has no exit(N)", tracer())
	}
	for _, n := range []int{3, 14, protocol.ExitUnsafeProgram} {
		r := startRunner(t, context.Background(), session(fmt.Sprintf(`BEGIN { printf("started\n"); } interval:ms:100 { exit(%d); }`, n), nil))
		r.send(protocol.Hello)
		if code := r.wait(t); code != protocol.ExitProgramExit {
			t.Fatalf("exit(%d): exit code %d, want %d\n%s", n, code, protocol.ExitProgramExit, r.stderr)
		}
		if !strings.Contains(r.stderr.String(), protocol.ProgramResultLine(n)) {
			t.Fatalf("exit(%d): no result line with the program's code:\n%s", n, r.stderr)
		}
	}
}

// $container_pid becomes the target's PID: PID 1 when the runner has the
// target's PID namespace to itself and no container ID is given.
func TestContainerPIDSubstituted(t *testing.T) {
	r := startRunner(t, context.Background(), session(`BEGIN { printf("pid=%d\n", $container_pid); exit(); }`, nil))
	r.send(protocol.Hello)
	if code := r.wait(t); code != 0 {
		t.Fatalf("exit code %d\n%s", code, r.stderr)
	}
	if !strings.Contains(r.stdout.String(), "pid=1\n") {
		t.Fatalf("$container_pid was not replaced by the target's PID 1:\n%s", r.stdout)
	}
}

// The ready line comes once the probes are attached: an event that happens
// after it is always seen.
func TestReadyMeansAttached(t *testing.T) {
	for _, json := range []bool{false, true} {
		t.Run(fmt.Sprintf("json=%v", json), func(t *testing.T) {
			// The probe fires when this test's own process execs a child;
			// BEGIN is left out, so only the announcement and the fds tell.
			r := startRunner(t, context.Background(), session(`tracepoint:sched:sched_process_exec /comm == "true"/ { @execs = count(); }`,
				func(s *protocol.Session) { s.JSON = json }))
			r.send(protocol.Hello)
			r.waitReady(t)
			execTrue(t, 3)
			r.send(protocol.Stop)
			if code := r.wait(t); code != 0 {
				t.Fatalf("exit code %d\n%s", code, r.stderr)
			}
			want := "@execs: 3"
			if json {
				want = `{"type": "map", "data": {"@execs": 3}}`
			}
			if !strings.Contains(r.stdout.String(), want) {
				t.Fatalf("want %s: events right after the ready line were missed\n%s", want, r.stdout)
			}
			if !strings.Contains(r.stderr.String(), protocol.ReadyLine(1)) {
				t.Fatalf("ready line does not count 1 probe:\n%s", r.stderr)
			}
		})
	}
}

// TestCensusSession: the native engine counts the syscalls of the runner's
// PID namespace (here the test's own, whose PID 1 is the target), ends like
// a bpftrace session and prints its summary in both formats.
func TestCensusSession(t *testing.T) {
	for _, asJSON := range []bool{false, true} {
		t.Run(fmt.Sprintf("json=%v", asJSON), func(t *testing.T) {
			r := startRunner(t, context.Background(), session("", func(s *protocol.Session) { s.Syscalls = true; s.JSON = asJSON }))
			r.send(protocol.Hello)
			r.waitIn(t, r.stderr, protocol.ReadyLine(1))
			execTrue(t, 3)
			r.send(protocol.Stop)
			if code := r.wait(t); code != 0 {
				t.Fatalf("exit code %d\n%s", code, r.stderr)
			}
			out := r.stdout.String()
			if asJSON {
				if !strings.Contains(out, `{"type": "attached_probes", "data": {"probes": 1}}`) || !strings.Contains(out, `"@syscalls":{`) || !strings.Contains(out, `"execve"`) {
					t.Fatalf("JSON summary lacks the census:\n%s", out)
				}
			} else if !regexp.MustCompile(`(?m)^execve +\S+ +\d+$`).MatchString(out) || !strings.Contains(out, "total") {
				t.Fatalf("text summary lacks execve:\n%s", out)
			}
			if !strings.Contains(r.stderr.String(), "peak memory of the runner") {
				t.Fatalf("no peak memory report:\n%s", r.stderr)
			}
		})
	}
}

// A control line too long to be one is skipped: the session goes on and
// still obeys the lines after it.
func TestLongControlLine(t *testing.T) {
	r := startRunner(t, context.Background(), session(ticking, nil))
	r.send(protocol.Hello)
	r.waitOutput(t, "started\n")
	r.send(strings.Repeat("x", 100<<10))
	r.send(protocol.Ping)
	time.Sleep(500 * time.Millisecond)
	if strings.Contains(r.stderr.String(), "stopping") {
		t.Fatalf("a long line ended the session:\n%s", r.stderr)
	}
	r.send(protocol.Stop)
	if code := r.wait(t); code != 0 || !strings.Contains(r.stdout.String(), "@ticks: ") {
		t.Fatalf("exit code %d, maps:\n%s\n%s", code, r.stdout, r.stderr)
	}
}

// A program too large for the container's args comes on stdin after hello,
// checked against the size and hash in the session.
func TestProgramOnStdin(t *testing.T) {
	program := "// " + strings.Repeat("padding ", 30<<10) + "\n" + ticking
	s := session("", nil)
	s.ProgramSize, s.ProgramSHA256, s.ProgramHead = protocol.ProgramOnStdin(program)
	r := startRunner(t, context.Background(), s)
	r.send(protocol.Hello)
	r.send(fmt.Sprintf("%s %d\n%s", protocol.ProgramLine, len(program), program))
	r.waitOutput(t, "started\n")
	r.send(protocol.Stop)
	if code := r.wait(t); code != 0 || !strings.Contains(r.stdout.String(), "@ticks: ") {
		t.Fatalf("exit code %d\n%s\n%s", code, r.stdout, r.stderr)
	}

	// Another program than the session's is refused.
	r = startRunner(t, context.Background(), s)
	r.send(protocol.Hello)
	r.send(fmt.Sprintf("%s %d\n%s", protocol.ProgramLine, 3, "x y"))
	if code := r.wait(t); code != protocol.ExitNoClient || !strings.Contains(r.stderr.String(), "is not the session's") {
		t.Fatalf("exit code %d\n%s", code, r.stderr)
	}
}

// A tracer that starts after its session's NotAfter (a slow image pull)
// does not trace at all; one that starts shortly before ends at NotAfter.
func TestNotAfter(t *testing.T) {
	r := startRunner(t, context.Background(), session(ticking, func(s *protocol.Session) { s.NotAfter = time.Now().Add(-time.Second) }))
	if code := r.wait(t); code != protocol.ExitExpired || !strings.Contains(r.stderr.String(), "has passed") {
		t.Fatalf("exit code %d\n%s", code, r.stderr)
	}
	r = startRunner(t, context.Background(), session(ticking, func(s *protocol.Session) { s.NotAfter = time.Now().Add(3 * time.Second) }))
	r.send(protocol.Hello)
	if code := r.wait(t); code != 0 || !strings.Contains(r.stderr.String(), "deadline") || !strings.Contains(r.stdout.String(), "@ticks: ") {
		t.Fatalf("exit code %d\n%s\n%s", code, r.stdout, r.stderr)
	}
}
