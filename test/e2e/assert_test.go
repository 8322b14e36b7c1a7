//go:build e2e

package e2e

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trace-debug/kubectl-trace-debug/debug"
	"github.com/trace-debug/kubectl-trace-debug/debug/junit"
)

// funcAsserts are the assertions on the demo's main.counterValue.
var funcAsserts = []string{"--assert", `@errors["main.counterValue"] == 0`, "--assert", `@calls["main.counterValue"] >= 3`}

// readReport reads a JUnit report back through the schema's structure.
func readReport(t *testing.T, path string) junit.Suite {
	t.Helper()
	suites, err := junit.ReadFile(path)
	if err != nil || len(suites) != 1 {
		t.Fatalf("the JUnit report: %d suites, %v", len(suites), err)
	}
	return suites[0]
}

// failed names a report's failed test cases, for messages.
func failed(s junit.Suite) string { return strings.Join(s.Failed(), "; ") }

// checkReport checks a --func session's report: the trace and both
// assertions, the calls assertion failed when want is 14.
func checkReport(t *testing.T, path string, want int, pod string) {
	t.Helper()
	s := readReport(t, path)
	wantFailed := ""
	if want == debug.ExitAssertFailed {
		wantFailed = `assert @calls["main.counterValue"] >= 3`
	}
	if s.Tests != 3 || failed(s) != wantFailed || s.Properties["pods"] != pod || !strings.HasPrefix(s.Properties["session"], "trace-debug-") {
		t.Fatalf("report: %d cases, failed %q, properties %v; want 3, failed %q, pod %s", s.Tests, failed(s), s.Properties, wantFailed, pod)
	}
}

// waitCalls waits until out shows n calls of main.counterValue.
func waitCalls(t *testing.T, out func() string, n int) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); strings.Count(out(), "main.counterValue = ") < n; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("want %d calls in the output:\n%s", n, out())
		}
	}
}

// TestAssertFunc: the issue's --func session passes with 3 requests and
// exits 14 with 2, the report saying which assertion failed, attached and
// detached; bad assertions are refused with nothing injected.
func TestAssertFunc(t *testing.T) {
	t.Parallel()
	d := startDemo(t, newNamespace(t), nil)
	for _, requests := range []int{3, 2} {
		want := map[int]int{3: 0, 2: debug.ExitAssertFailed}[requests]

		// Attached: Ctrl-C prints the maps, then the assertions are checked.
		report := filepath.Join(t.TempDir(), "attached.xml")
		s := startPlugin(t, append([]string{"-n", d.ns, "pod/" + d.name, "--func", "main.counterValue", "--junit", report}, funcAsserts...)...)
		s.waitOutput(t, "probes attached", 60*time.Second)
		d.request(t, requests)
		waitCalls(t, s.stdout.String, requests)
		s.interrupt(t)
		if code := s.wait(t, 30*time.Second); code != want || !strings.Contains(s.stdout.String(), "@calls[main.counterValue]: "+strconv.Itoa(requests)) ||
			!strings.Contains(s.stderr.String(), `assertion @errors["main.counterValue"] == 0 held`) {
			t.Fatalf("attached, %d requests: code %d, want %d\n%s\n%s", requests, code, want, s.stdout, s.stderr)
		}
		if want != 0 && !strings.Contains(s.stderr.String(), `assertion @calls["main.counterValue"] >= 3 failed; saw @calls = {"main.counterValue": 2}`) {
			t.Fatalf("attached: the failed assertion and what it saw:\n%s", s.stderr)
		}
		checkReport(t, report, want, d.name)

		// Detached: the session keeps its assertions; stop checks them.
		name, stderr, code := runPlugin(t, 90*time.Second, append([]string{"-n", d.ns, "pod/" + d.name, "--func", "main.counterValue", "--detach"}, funcAsserts...)...)
		name = strings.TrimSpace(name)
		if code != 0 || !strings.Contains(stderr, "which checks its 2 --assert expressions") {
			t.Fatalf("detach: code %d\n%s", code, stderr)
		}
		d.request(t, requests)
		waitCalls(t, func() string {
			out, _, _ := runPlugin(t, 30*time.Second, "logs", "-n", d.ns, "pod/"+d.name, name)
			return out
		}, requests)
		report = filepath.Join(t.TempDir(), "detached.xml")
		_, stderr, code = runPlugin(t, 60*time.Second, "stop", "-n", d.ns, "pod/"+d.name, name, "--junit", report)
		if code != want || !strings.Contains(stderr, `assertion @calls["main.counterValue"] >= 3`) {
			t.Fatalf("stop, %d requests: code %d, want %d\n%s", requests, code, want, stderr)
		}
		checkReport(t, report, want, d.name)
	}

	// Refused before anything is injected: a bad expression, an undeclared map.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--func", "main.counterValue", "--assert", "@calls >"}, "check --assert"},
		{[]string{"-e", ready + counterProbe + ` { @calls = count(); }`, "--assert", "@errors == 0"}, "reads map @errors, which the program does not declare"},
	} {
		p := startDemo(t, newNamespace(t), nil)
		_, stderr, code := runPlugin(t, 30*time.Second, append([]string{"-n", p.ns, "pod/" + p.name}, c.args...)...)
		if code != debug.ExitUsage || !strings.Contains(stderr, c.want) {
			t.Fatalf("%v: code %d, want %d naming %q\n%s", c.args, code, debug.ExitUsage, c.want, stderr)
		}
		assertNothingInjected(t, p.ns, p.name)
	}
	assertNoHarm(t, d, 10*time.Second)
}

// TestAssertSelfEndingProgram: a program that ends itself with exit() prints
// its maps as bpftrace does; the assertions read them (a failing one exits
// 14 naming what it saw), and the program's own exit(3) is reported as the
// program's, not as "target not found".
func TestAssertSelfEndingProgram(t *testing.T) {
	t.Parallel()
	d := startDemo(t, newNamespace(t), nil)
	program := ready + counterProbe + ` { @calls = count(); @n++; if (@n == 2) { exit(); } }`
	s := startPlugin(t, "-n", d.ns, "pod/"+d.name, "-e", program, "--assert", "@calls == 0")
	s.waitOutput(t, "tracing\n", 60*time.Second)
	d.request(t, 2)
	if code := s.wait(t, 60*time.Second); code != debug.ExitAssertFailed || !strings.Contains(s.stderr.String(), "assertion @calls == 0 failed; saw @calls = 2") {
		t.Fatalf("code %d, want %d naming @calls = 2\n%s\n%s", code, debug.ExitAssertFailed, s.stdout, s.stderr)
	}
	_, stderr, code := runPlugin(t, 60*time.Second, "-n", d.ns, "pod/"+d.name, "-e", `interval:ms:300 { exit(3); }`)
	if code != debug.ExitProgramExit || !strings.Contains(stderr, "the program ended itself with exit(3)") {
		t.Fatalf("exit(3): code %d, want %d saying so\n%s", code, debug.ExitProgramExit, stderr)
	}
	assertNoHarm(t, d, 10*time.Second)
}
