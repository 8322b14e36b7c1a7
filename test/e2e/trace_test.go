//go:build e2e

package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/trace-debug/kubectl-trace-debug/debug"
)

const counterProbe = `uprobe:/proc/$container_pid/root/app/server:"main.counterValue"`

// mapValue returns the value of "@name: N" in bpftrace's map summary.
func mapValue(t *testing.T, out, name string) int {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `: (\d+)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no %q in the output:\n%s", name, out)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// ready is a BEGIN block: bpftrace runs BEGIN once every probe is attached,
// so its line tells a test that tracing has begun ("Attaching N probes..."
// is printed before the probes are attached).
const ready = `BEGIN { printf("tracing\n"); } `

// TestUprobeCountsEachRequest: a uprobe on the demo server's Go function,
// through /proc/$container_pid/root, counts exactly the requests sent.
//
// Uprobe tests do not run in parallel: a uprobe binds to the binary's inode,
// so it also fires in other pods of the same image (see README, Limits).
func TestUprobeCountsEachRequest(t *testing.T) {
	d := startDemo(t, newNamespace(t), nil)
	s := startPlugin(t, "-n", d.ns, "pod/"+d.name, "-e", ready+counterProbe+` { @calls = count(); }`)
	s.waitOutput(t, "tracing\n", 60*time.Second)
	const requests = 7
	d.request(t, requests)
	s.interrupt(t)
	if code := s.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit code %d, want 0\n%s", code, s.stderr)
	}
	if got := mapValue(t, s.stdout.String(), "@calls"); got != requests {
		t.Fatalf("@calls = %d, want %d (one per request)", got, requests)
	}
	assertNoHarm(t, d, 10*time.Second)
}

// TestTracepointFilteredByComm: syscall tracepoint counts keyed and filtered
// by comm, ended by --duration.
func TestTracepointFilteredByComm(t *testing.T) {
	t.Parallel()
	d := startDemo(t, newNamespace(t), nil)
	s := startPlugin(t, "-n", d.ns, d.name, "--duration", "6s",
		"-e", ready+`tracepoint:syscalls:sys_enter_write /comm == "server"/ { @[comm] = count(); }`)
	s.waitOutput(t, "tracing\n", 60*time.Second)
	const requests = 5
	d.request(t, requests)
	if code := s.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("exit code %d, want 0\n%s", code, s.stderr)
	}
	out := s.stdout.String()
	if got := mapValue(t, out, "@[server]"); got < requests {
		t.Fatalf("@[server] = %d, want at least one write per request (%d)", got, requests)
	}
	if keys := regexp.MustCompile(`(?m)^@\[`).FindAllString(out, -1); len(keys) != 1 {
		t.Fatalf("want only the server's key in the map, got:\n%s", out)
	}
	assertNoHarm(t, d, 10*time.Second)
}

// TestWriteBufferAsString: str(args->buf) shows what the server writes.
func TestWriteBufferAsString(t *testing.T) {
	t.Parallel()
	d := startDemo(t, newNamespace(t), nil)
	s := startPlugin(t, "-n", d.ns, "pod/"+d.name, "--duration", "5s",
		"-e", ready+`tracepoint:syscalls:sys_enter_write /comm == "server"/ { printf("%s\n", str(args->buf)); }`)
	s.waitOutput(t, "tracing\n", 60*time.Second)
	d.request(t, 3)
	if code := s.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("exit code %d, want 0\n%s", code, s.stderr)
	}
	out := s.stdout.String()
	// str() keeps 64 bytes by default: the status line of each response.
	if n := strings.Count(out, "HTTP/1.1 200 OK"); n < 3 {
		t.Fatalf("want the server's 3 responses in the trace, found %d:\n%s", n, out)
	}
	assertNoHarm(t, d, 10*time.Second)
}

// TestProgramFileWithBEGIN: -f with comments and a BEGIN block whose output,
// printed at once, is not lost before the stream connects.
func TestProgramFileWithBEGIN(t *testing.T) {
	d := startDemo(t, newNamespace(t), nil)
	file := filepath.Join(t.TempDir(), "requests.bt")
	program := `/*
 * Counts the demo server's requests.
 */
BEGIN
{
	printf("tracing requests of %s\n", "demo");   // a comment
}

` + counterProbe + `
{
	@requests = count();
}
`
	if err := os.WriteFile(file, []byte(program), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startPlugin(t, "-n", d.ns, "pod/"+d.name, "-f", file, "--duration", "6s")
	s.waitOutput(t, "tracing requests of demo", 60*time.Second)
	d.request(t, 4)
	if code := s.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("exit code %d, want 0\n%s", code, s.stderr)
	}
	if got := mapValue(t, s.stdout.String(), "@requests"); got != 4 {
		t.Fatalf("@requests = %d, want 4", got)
	}
	assertNoHarm(t, d, 10*time.Second)
}

// TestDurationEndsWithSummary: --duration stops the trace the Ctrl-C way by itself.
func TestDurationEndsWithSummary(t *testing.T) {
	t.Parallel()
	d := startDemo(t, newNamespace(t), nil)
	start := time.Now()
	out, stderr, code := runPlugin(t, 90*time.Second, "-n", d.ns, "pod/"+d.name, "--duration", "3s",
		"-e", `interval:ms:100 { @ticks = count(); }`)
	if code != 0 {
		t.Fatalf("exit code %d, want 0\n%s", code, stderr)
	}
	if took := time.Since(start); took < 3*time.Second {
		t.Fatalf("ended after %v, before --duration 3s", took)
	}
	if got := mapValue(t, out, "@ticks"); got < 20 {
		t.Fatalf("@ticks = %d after 3 s of 100 ms ticks", got)
	}
	assertNoHarm(t, d, 10*time.Second)
}

// TestSharedProcessNamespace: with shareProcessNamespace, PID 1 is the pause
// process; the runner finds the target by its container ID instead, so
// $container_pid is still the server.
func TestSharedProcessNamespace(t *testing.T) {
	d := startDemo(t, newNamespace(t), func(p *corev1.Pod) { p.Spec.ShareProcessNamespace = ptr.To(true) })
	s := startPlugin(t, "-n", d.ns, "pod/"+d.name, "-e",
		`BEGIN { printf("tracing pid %d\n", $container_pid); } `+counterProbe+` { @calls = count(); }`)
	s.waitOutput(t, "tracing pid", 60*time.Second)
	if strings.Contains(s.stdout.String(), "tracing pid 1\n") {
		t.Fatalf("$container_pid is PID 1 (the pause process) in a shared PID namespace")
	}
	d.request(t, 3)
	s.interrupt(t)
	if code := s.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit code %d, want 0\n%s", code, s.stderr)
	}
	if got := mapValue(t, s.stdout.String(), "@calls"); got != 3 {
		t.Fatalf("@calls = %d, want 3", got)
	}
	assertNoHarm(t, d, 10*time.Second)
}

// TestGoUretprobeRefusedByOldBpftrace: an older bpftrace in a user's
// --image (Debian 12's 0.17) cannot place uprobes at an offset, so the
// seed's Go uretprobe cannot be rewritten: it is refused before anything is
// attached, with the safe alternative named; the server keeps serving.
func TestGoUretprobeRefusedByOldBpftrace(t *testing.T) {
	t.Parallel()
	d := startDemo(t, newNamespace(t), nil)
	_, stderr, code := runPlugin(t, 60*time.Second, "-n", d.ns, "pod/"+d.name, "--image", oldRunnerImage(),
		"-e", `uretprobe:/proc/$container_pid/exe:"main.counterValue" { printf("%d\n", retval) }`)
	if code != debug.ExitProgramRejected || !strings.Contains(stderr, "refusing a return probe on a Go function") ||
		!strings.Contains(stderr, "--func main.counterValue") || !strings.Contains(stderr, "bpftrace 0.17") {
		t.Fatalf("code %d, want %d with the reason\n%s", code, debug.ExitProgramRejected, stderr)
	}
	d.request(t, 3)
	assertNoHarm(t, d, 10*time.Second)
}

// TestSyscallCensus: the native engine counts the target container's
// syscalls only: another pod of the same image, busier, is not counted.
func TestSyscallCensus(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	d := startDemo(t, ns, nil)
	other := startDemo(t, newNamespace(t), nil)
	s := startPlugin(t, "-n", ns, "pod/"+d.name, "--syscalls", "-o", "json", "--duration", "4s")
	s.waitOutput(t, "probes attached", 60*time.Second)
	d.request(t, 3)
	other.request(t, 20)
	if code := s.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("exit code %d\n%s", code, s.stderr)
	}
	var bySyscall map[string]int
	for _, line := range strings.Split(s.stdout.String(), "\n") {
		var ev struct {
			Type string                    `json:"type"`
			Data map[string]map[string]int `json:"data"`
		}
		if json.Unmarshal([]byte(line), &ev) == nil && ev.Type == "map" && ev.Data["@syscalls"] != nil {
			bySyscall = ev.Data["@syscalls"]
		}
	}
	if w := bySyscall["write"]; w < 3 || w > 6 {
		t.Fatalf("write = %d for 3 requests to this pod (20 went to another): %v\n%s", w, bySyscall, s.stdout)
	}
	if !strings.Contains(s.stderr.String(), "peak memory of the runner") || !strings.Contains(s.stderr.String(), "-native)") {
		t.Fatalf("no peak memory report, or not the native image (no bpftrace):\n%s", s.stderr)
	}
	assertNoHarm(t, d, 10*time.Second)
}

// TestFuncTracesEachCall: the seed's caturday scenario done safely. --func
// prints each request's counter value as main.counterValue returns it, and
// the server survives (a uretprobe would have crashed it).
func TestFuncTracesEachCall(t *testing.T) {
	t.Parallel() // the native tracer filters by the target's PID namespace
	d := startDemo(t, newNamespace(t), nil)
	s := startPlugin(t, "-n", d.ns, "pod/"+d.name, "--func", "main.counterValue")
	s.waitOutput(t, "probes attached", 60*time.Second)
	d.request(t, 3) // the counter was at 1 after startDemo's probe request
	s.waitOutput(t, "main.counterValue = 4 ", 20*time.Second)
	s.interrupt(t)
	if code := s.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit code %d\n%s", code, s.stderr)
	}
	out := s.stdout.String()
	for _, v := range []string{"= 2 ", "= 3 ", "= 4 "} {
		if strings.Count(out, "main.counterValue "+v) != 1 {
			t.Fatalf("want one call returning %s:\n%s", v, out)
		}
	}
	if !strings.Contains(out, "@calls[main.counterValue]: 3") || !strings.Contains(out, "@latency_us[main.counterValue]") {
		t.Fatalf("no summary:\n%s", out)
	}
	d.request(t, 1)
	assertNoHarm(t, d, 10*time.Second)
}

// TestFuncJSON: --func with -o json writes one object per call and a summary
// with calls, errors and the latency histogram, every line valid JSON.
func TestFuncJSON(t *testing.T) {
	t.Parallel()
	d := startDemo(t, newNamespace(t), nil)
	s := startPlugin(t, "-n", d.ns, "pod/"+d.name, "--func", "main.counterValue", "-o", "json", "--duration", "4s")
	s.waitOutput(t, "probes attached", 60*time.Second)
	d.request(t, 2)
	if code := s.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("exit code %d\n%s", code, s.stderr)
	}
	types := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(s.stdout.String()), "\n") {
		var ev struct {
			Type string          `json:"type"`
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("line %q is not JSON: %v", line, err)
		}
		types[ev.Type]++
		if ev.Type == "call" && !strings.Contains(string(ev.Data), `"results":["`) {
			t.Fatalf("call without results: %s", line)
		}
	}
	if types["attached_probes"] != 1 || types["call"] != 2 || types["map"] != 2 || types["hist"] != 1 {
		t.Fatalf("want attached_probes, 2 calls, 2 maps and a hist, got %v\n%s", types, s.stdout)
	}
}
