//go:build e2e

package e2e

import (
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trace-debug/kubectl-trace-debug/debug"
	"github.com/trace-debug/kubectl-trace-debug/debug/junit"
)

// funcAsserts trace the demo's main.counterValue (once per request) and
// main.lookup (an error for ?key=missing) and check both: every lookup
// succeeded, and there were at least 3 requests.
var funcAsserts = []string{"--func", "main.counterValue", "--func", "main.lookup", "--assert", `@errors["main.lookup"] == 0`, "--assert", `@calls["main.counterValue"] >= 3`}

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
// assertions, wantFailed failed.
func checkReport(t *testing.T, path string, wantFailed string, pod string) {
	t.Helper()
	s := readReport(t, path)
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

// funcRun is a run of funcAsserts: requests to make, failing ones among
// them, and what comes of it.
type funcRun struct {
	requests, failing int
	code              int
	failed            string   // the report's failed case
	stderr            []string // what the assertions print
}

// printed reports whether out holds each of r's lines.
func (r funcRun) printed(out string) bool {
	for _, l := range r.stderr {
		if !strings.Contains(out, l) {
			return false
		}
	}
	return true
}

var funcRuns = []funcRun{
	{3, 0, 0, "", []string{`assertion @errors["main.lookup"] == 0 held; saw @errors = {"main.lookup": 0}`}},
	{2, 0, debug.ExitAssertFailed, `assert @calls["main.counterValue"] >= 3`, []string{`assertion @calls["main.counterValue"] >= 3 failed; saw @calls = {`, `"main.counterValue": 2`}},
	{3, 1, debug.ExitAssertFailed, `assert @errors["main.lookup"] == 0`, []string{`assertion @errors["main.lookup"] == 0 failed; saw @errors = {"main.lookup": 1}`}},
}

// load makes r's requests, the failing ones last.
func (d demoPod) load(t *testing.T, r funcRun) {
	t.Helper()
	d.request(t, r.requests-r.failing)
	for i := 0; i < r.failing; i++ {
		resp, err := http.Get(d.url() + "?key=missing")
		if err != nil || resp.StatusCode != http.StatusNotFound {
			t.Fatalf("a failing request: %v %v", resp, err)
		}
		resp.Body.Close()
	}
}

// TestAssertFunc: a --func session passes with 3 good requests and exits
// 14 with 2 (too few calls) or with a failed lookup (an error), the report
// saying which assertion failed, attached and detached; bad assertions are
// refused with nothing injected, and so is one on the errors of a function
// that returns none.
func TestAssertFunc(t *testing.T) {
	t.Parallel()
	d := startDemo(t, newNamespace(t), nil)
	for _, run := range funcRuns {
		// Attached: Ctrl-C prints the maps, then the assertions are checked.
		report := filepath.Join(t.TempDir(), "attached.xml")
		s := startPlugin(t, append([]string{"-n", d.ns, "pod/" + d.name, "--junit", report}, funcAsserts...)...)
		s.waitOutput(t, "probes attached", 60*time.Second)
		d.load(t, run)
		waitCalls(t, s.stdout.String, run.requests)
		s.interrupt(t)
		if code := s.wait(t, 30*time.Second); code != run.code || !strings.Contains(s.stdout.String(), "@calls[main.counterValue]: "+strconv.Itoa(run.requests)) ||
			!run.printed(s.stderr.String()) {
			t.Fatalf("attached, %+v: code %d\n%s\n%s", run, code, s.stdout, s.stderr)
		}
		checkReport(t, report, run.failed, d.name)

		// Detached: the session keeps its assertions; stop checks them.
		name, stderr, code := runPlugin(t, 90*time.Second, append([]string{"-n", d.ns, "pod/" + d.name, "--detach"}, funcAsserts...)...)
		name = strings.TrimSpace(name)
		if code != 0 || !strings.Contains(stderr, "which checks its 2 --assert expressions") {
			t.Fatalf("detach: code %d\n%s", code, stderr)
		}
		d.load(t, run)
		waitCalls(t, func() string {
			out, _, _ := runPlugin(t, 30*time.Second, "logs", "-n", d.ns, "pod/"+d.name, name)
			return out
		}, run.requests)
		report = filepath.Join(t.TempDir(), "detached.xml")
		_, stderr, code = runPlugin(t, 60*time.Second, "stop", "-n", d.ns, "pod/"+d.name, name, "--junit", report)
		if code != run.code || !run.printed(stderr) {
			t.Fatalf("stop, %+v: code %d\n%s", run, code, stderr)
		}
		checkReport(t, report, run.failed, d.name)
	}

	// main.counterValue returns an int: its errors cannot be seen, and an
	// assertion on them is refused, saying so.
	s := startPlugin(t, "-n", d.ns, "pod/"+d.name, "--func", "main.counterValue", "--assert", `@errors["main.counterValue"] == 0`)
	s.waitOutput(t, "probes attached", 60*time.Second)
	d.request(t, 1)
	waitCalls(t, s.stdout.String, 1)
	s.interrupt(t)
	if code := s.wait(t, 30*time.Second); code != debug.ExitUsage || !strings.Contains(s.stderr.String(), "the last result of main.counterValue is int, not an error") ||
		!strings.Contains(s.stderr.String(), "the errors of main.counterValue cannot be seen") {
		t.Fatalf("errors of a function returning an int: code %d\n%s", code, s.stderr)
	}

	// Refused before anything is injected: a bad expression, an undeclared map.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--func", "main.counterValue", "--assert", "@calls >"}, "check --assert"},
		{[]string{"--func", "main.counterValue", "--assert", `@calls["main.countervalue"] > 0`}, "can never be written"},
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
	// The verdict is on the maps it printed: the count it names is the
	// printed one (2, or more when a call lands before bpftrace acts on exit()).
	code := s.wait(t, 60*time.Second)
	saw := regexp.MustCompile(`assertion @calls == 0 failed; saw @calls = (\d+)\n`).FindStringSubmatch(s.stderr.String())
	n := -1
	if saw != nil {
		n, _ = strconv.Atoi(saw[1])
	}
	if code != debug.ExitAssertFailed || n < 2 || !strings.Contains(s.stdout.String(), fmt.Sprintf("@calls: %d\n", n)) {
		t.Fatalf("code %d, want %d naming the @calls it printed (at least 2)\n%s\n%s", code, debug.ExitAssertFailed, s.stdout, s.stderr)
	}
	_, stderr, code := runPlugin(t, 60*time.Second, "-n", d.ns, "pod/"+d.name, "-e", `interval:ms:300 { exit(3); }`)
	if code != debug.ExitProgramExit || !strings.Contains(stderr, "the program ended itself with exit(3)") {
		t.Fatalf("exit(3): code %d, want %d saying so\n%s", code, debug.ExitProgramExit, stderr)
	}
	assertNoHarm(t, d, 10*time.Second)
}
