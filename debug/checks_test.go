package debug

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
	"github.com/trace-debug/kubectl-trace-debug/debug/junit"
	"github.com/trace-debug/kubectl-trace-debug/debug/kube/kubetest"
)

// printing is a runner that prints these final maps and ends.
func printing(maps ...string) func(string) kubetest.Script {
	return func(string) kubetest.Script {
		lines := []kubetest.Line{readyLine, kubetest.Out(protocol.MapsLine)}
		for _, m := range maps {
			lines = append(lines, kubetest.Out(m))
		}
		return kubetest.Script{Lines: append(lines, result0), ExitAfterLines: true}
	}
}

// readReport reads a JUnit report through the schema check.
func readReport(t *testing.T, path string) junit.Suite {
	t.Helper()
	suites, err := junit.ReadFile(path)
	if err != nil || len(suites) != 1 {
		t.Fatalf("report %s: %d suites, %v", path, len(suites), err)
	}
	return suites[0]
}

const counting = `uprobe:/app:main.counterValue { @calls[func] = count(); } uretprobe:/app:main.counterValue /retval < 0/ { @errors[func] = count(); }`

func TestAssertOnePod(t *testing.T) {
	for _, c := range []struct {
		name   string
		calls  string
		code   int
		failed []string
	}{
		{"held", "@calls[main.counterValue]: 3", 0, nil},
		{"too few calls", "@calls[main.counterValue]: 2", ExitAssertFailed, []string{`assert @calls["main.counterValue"] >= 3`}},
	} {
		cl := web(printing(c.calls))
		report := filepath.Join(t.TempDir(), "report.xml")
		r := run(t, cl.Clients("ns"), nil, "pod/web", "-c", "app", "-e", counting, "--junit", report,
			"--assert", `@errors["main.counterValue"] == 0`, "--assert", `@calls["main.counterValue"] >= 3`)
		if r.code != c.code || !strings.Contains(r.stdout, c.calls) || strings.Contains(r.stdout, protocol.MapsLine) {
			t.Fatalf("%s: exit %d (%v), want %d, the maps as printed\n%s\n%s", c.name, r.code, r.err, c.code, r.stdout, r.stderr)
		}
		if !strings.Contains(r.stderr, `assertion @errors["main.counterValue"] == 0 held; saw @errors never written (0)`) {
			t.Errorf("%s: stderr lacks the held assertion\n%s", c.name, r.stderr)
		}
		if c.code != 0 && !strings.Contains(r.stderr, `assertion @calls["main.counterValue"] >= 3 failed; saw @calls = {"main.counterValue": 2}`) {
			t.Errorf("%s: stderr lacks the failed assertion and its values\n%s", c.name, r.stderr)
		}
		s := readReport(t, report)
		if s.Tests != 3 || strings.Join(s.Failed(), ";") != strings.Join(c.failed, ";") || s.Properties["pods"] != "web" || s.Properties["exit-code"] != itoa(c.code) {
			t.Errorf("%s: report %+v, want 3 cases, failed %q", c.name, s, c.failed)
		}
	}
}

// A native mode's summary is checked as the JSON it travels in, and shown
// as text.
func TestAssertNativeMode(t *testing.T) {
	cl := web(printing(`{"type": "map", "data": {"@calls": {"main.counterValue": 3}}}`, `{"type": "map", "data": {"@errors": {"main.counterValue": 0}}}`))
	r := run(t, cl.Clients("ns"), nil, "pod/web", "-c", "app", "--func", "main.counterValue",
		"--assert", `@errors["main.counterValue"] == 0`, "--assert", `@calls["main.counterValue"] >= 3`)
	if r.code != 0 || !strings.Contains(r.stdout, "@calls[main.counterValue]: 3") {
		t.Fatalf("exit %d (%v)\n%s\n%s", r.code, r.err, r.stdout, r.stderr)
	}
}

// Over several pods, the assertions read the merged maps.
func TestAssertMergedPods(t *testing.T) {
	cl := web(printing("@calls: 2", "@lat:", "[256, 512)             3 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|"))
	program := `BEGIN { @calls = count(); @lat = hist(300); }`
	r := run(t, cl.Clients("ns"), nil, "-l", "app=web", "-c", "app", "-e", program, "--assert", "@calls == 8", "--assert", "@lat.count == 12 && @lat.p99 == 511")
	if r.code != 0 || !strings.Contains(r.stdout, "@calls: 8") {
		t.Fatalf("exit %d (%v)\n%s\n%s", r.code, r.err, r.stdout, r.stderr)
	}
	r = run(t, cl.Clients("ns"), nil, "-l", "app=web", "-c", "app", "-e", program, "--assert", "@calls < 5")
	if r.code != ExitAssertFailed || !strings.Contains(r.stderr, "saw @calls = 8") {
		t.Fatalf("exit %d (%v), want %d\n%s", r.code, r.err, ExitAssertFailed, r.stderr)
	}
}

// Bad assertions are refused before anything is injected.
func TestAssertRefusals(t *testing.T) {
	cl := web(printing("@calls: 2"))
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-e", counting, "--assert", "@nope == 0"}, "reads map @nope, which the program does not declare (its maps: @calls, @errors)"},
		{[]string{"-e", counting, "--assert", "@calls >"}, "column"},
		{[]string{"--func", "main.x", "--assert", "@syscalls > 0"}, "(its maps: @calls, @errors, @latency_us)"},
		{[]string{"--cpu", "--assert", "@x > 0"}, "--cpu prints a profile"},
		{[]string{"-e", counting, "--detach", "--junit", "r.xml"}, "give --junit to `kubectl trace-debug stop`"},
		{[]string{"-e", counting, "--junit", "/nonexistent/dir/r.xml"}, "open --junit"},
	} {
		r := run(t, cl.Clients("ns"), nil, append([]string{"pod/web", "-c", "app"}, c.args...)...)
		if r.code != ExitUsage || !strings.Contains(r.err.Error(), c.want) {
			t.Errorf("%q: exit %d (%v), want %d containing %q", c.args, r.code, r.err, ExitUsage, c.want)
		}
	}
	p, err := cl.Client.CoreV1().Pods("ns").Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil || len(p.Spec.EphemeralContainers) != 0 {
		t.Fatalf("a refused assertion injected %d tracers (%v)", len(p.Spec.EphemeralContainers), err)
	}
}

// A detached session keeps its assertions; stop checks them on the maps
// its runners printed, and writes the report.
func TestAssertDetachedThenStop(t *testing.T) {
	for _, c := range []struct {
		target []string
		calls  string
		code   int
	}{
		{[]string{"pod/web", "-c", "app"}, "@calls: 2", ExitAssertFailed},
		{[]string{"pod/web", "-c", "app"}, "@calls: 3", 0},
		{[]string{"-l", "app=web", "-c", "app"}, "@calls: 1", 0}, // four pods, merged
		{[]string{"pod/web", "-c", "app", "--program-on-stdin"}, "@calls: 2", ExitAssertFailed},
		{[]string{"-l", "app=web", "-c", "app", "--program-on-stdin"}, "@calls: 1", 0}, // merged: its maps' aggregations kept in the pods
	} {
		program := `BEGIN { @calls = count(); }`
		if c.target[len(c.target)-1] == "--program-on-stdin" { // too large for the args: its text is not in the pod
			c.target = c.target[:len(c.target)-1]
			program = "// " + strings.Repeat("a padded program ", protocol.MaxArgsProgram/16) + "\n" + program
		}
		cl := web(func(string) kubetest.Script {
			return kubetest.Script{Lines: []kubetest.Line{readyLine},
				OnStop: []kubetest.Line{kubetest.Out(protocol.MapsLine), kubetest.Out(c.calls), result0}}
		})
		args := append(append([]string{}, c.target...), "-e", program, "--detach", "--assert", "@calls >= 3")
		r := run(t, cl.Clients("ns"), nil, args...)
		name := strings.TrimSpace(r.stdout)
		if r.code != 0 || !strings.Contains(r.stderr, "which checks its 1 --assert expressions") {
			t.Fatalf("%v: detach: exit %d (%v)\n%s\n%s", c.target, r.code, r.err, r.stdout, r.stderr)
		}
		report := filepath.Join(t.TempDir(), "report.xml")
		stopTarget := c.target[:1]
		if c.target[0] == "-l" {
			stopTarget = c.target[:2]
		}
		r = run(t, cl.Clients("ns"), nil, append(append([]string{"stop"}, stopTarget...), name, "--junit", report)...)
		if r.code != c.code || !strings.Contains(r.stderr, "assertion @calls >= 3") {
			t.Fatalf("%v: stop: exit %d (%v), want %d\n%s", c.target, r.code, r.err, c.code, r.stderr)
		}
		s := readReport(t, report)
		if s.Tests != 2 || s.Properties["session"] != name || (len(s.Failed()) > 0) != (c.code != 0) {
			t.Errorf("%v: report %+v", c.target, s)
		}
	}
}

// A trace that fails keeps its own exit code; the report says so, its
// assertions skipped.
func TestAssertTraceFails(t *testing.T) {
	cl := web(func(string) kubetest.Script {
		return kubetest.Script{Lines: []kubetest.Line{kubetest.Err("ERROR: nope"), kubetest.Err(protocol.ResultLine(protocol.ExitProgramRejected))},
			ExitAfterLines: true, ExitCode: protocol.ExitProgramRejected}
	})
	report := filepath.Join(t.TempDir(), "report.xml")
	r := run(t, cl.Clients("ns"), nil, "pod/web", "-c", "app", "-e", counting, "--assert", "@calls == 0", "--junit", report)
	if r.code != ExitProgramRejected {
		t.Fatalf("exit %d (%v), want %d", r.code, r.err, ExitProgramRejected)
	}
	s := readReport(t, report)
	if s.Tests != 2 || s.Skipped != 1 || !s.Cases[0].Failed || s.Properties["exit-code"] != itoa(ExitProgramRejected) {
		t.Fatalf("report %+v", s)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// attach follows a detached session to its end, shows its maps as the
// trace would, and checks the assertions it keeps.
func TestAssertDetachedThenAttach(t *testing.T) {
	cl := web(func(string) kubetest.Script {
		return kubetest.Script{Lines: []kubetest.Line{readyLine},
			OnStop: []kubetest.Line{kubetest.Out(protocol.MapsLine), kubetest.Out(`{"type": "map", "data": {"@calls": {"main.counterValue": 2}}}`), result0}}
	})
	r := run(t, cl.Clients("ns"), nil, "pod/web", "-c", "app", "--func", "main.counterValue", "--detach", "--assert", `@calls["main.counterValue"] >= 3`)
	name := strings.TrimSpace(r.stdout)
	if r.code != 0 {
		t.Fatalf("detach: exit %d (%v)\n%s", r.code, r.err, r.stderr)
	}
	interrupts := make(chan os.Signal, 1)
	go func() { time.Sleep(300 * time.Millisecond); interrupts <- os.Interrupt }()
	report := filepath.Join(t.TempDir(), "report.xml")
	r = run(t, cl.Clients("ns"), interrupts, "attach", "pod/web", name, "--junit", report)
	if r.code != ExitAssertFailed || !strings.Contains(r.stdout, "@calls[main.counterValue]: 2") || strings.Contains(r.stdout, protocol.MapsLine) ||
		!strings.Contains(r.stderr, `saw @calls = {"main.counterValue": 2}`) {
		t.Fatalf("attach: exit %d (%v), want %d with the maps as text\n%s\n%s", r.code, r.err, ExitAssertFailed, r.stdout, r.stderr)
	}
	if s := readReport(t, report); strings.Join(s.Failed(), ";") != `assert @calls["main.counterValue"] >= 3` {
		t.Fatalf("report %+v", s)
	}
}

// A trace whose maps came without the runner's maps line (a program that
// ended itself under a runner that does not mark them, an older image) has
// nothing the client read: its assertions are not evaluated, never passed.
func TestAssertNotEvaluatedWithoutMaps(t *testing.T) {
	unmarked := func(string) kubetest.Script {
		return kubetest.Script{Lines: []kubetest.Line{readyLine, kubetest.Out("@calls: 7"), result0}, ExitAfterLines: true}
	}
	for _, c := range []struct {
		name   string
		script func(string) kubetest.Script
		target []string
		want   string
	}{
		{"one pod", unmarked, []string{"pod/web"}, "printed no final maps the client could read (pod web)"},
		{"one pod of four", func(pod string) kubetest.Script {
			if pod == "b" {
				return unmarked(pod)
			}
			return printing("@calls: 1")(pod)
		}, []string{"-l", "app=web"}, "(pod b)"},
	} {
		cl := web(c.script)
		report := filepath.Join(t.TempDir(), "report.xml")
		r := run(t, cl.Clients("ns"), nil, append(c.target, "-c", "app", "-e", `BEGIN { @calls = count(); exit(); }`, "--assert", "@calls == 0", "--junit", report)...)
		if r.code != ExitAssertFailed || !strings.Contains(r.stderr, "assertion @calls == 0 not evaluated") || !strings.Contains(r.stderr, c.want) {
			t.Fatalf("%s: exit %d (%v), want %d, not evaluated\n%s\n%s", c.name, r.code, r.err, ExitAssertFailed, r.stdout, r.stderr)
		}
		s := readReport(t, report)
		if s.Tests != 2 || s.Errors != 1 || s.Skipped != 0 || s.Properties["exit-code"] != itoa(ExitAssertFailed) {
			t.Fatalf("%s: report %+v, want the assertion as an error", c.name, s)
		}
	}
}

// stop gives no verdict either on a session whose log holds no maps line.
func TestAssertStopNotEvaluatedWithoutMaps(t *testing.T) {
	cl := web(func(string) kubetest.Script {
		return kubetest.Script{Lines: []kubetest.Line{readyLine}, OnStop: []kubetest.Line{kubetest.Out("@calls: 7"), result0}}
	})
	r := run(t, cl.Clients("ns"), nil, "pod/web", "-c", "app", "-e", `BEGIN { @calls = count(); }`, "--detach", "--assert", "@calls == 0")
	name := strings.TrimSpace(r.stdout)
	if r.code != 0 {
		t.Fatalf("detach: exit %d (%v)\n%s", r.code, r.err, r.stderr)
	}
	r = run(t, cl.Clients("ns"), nil, "stop", "pod/web", name)
	if r.code != ExitAssertFailed || !strings.Contains(r.stderr, "assertion @calls == 0 not evaluated") {
		t.Fatalf("stop: exit %d (%v), want %d, not evaluated\n%s", r.code, r.err, ExitAssertFailed, r.stderr)
	}
}

// --func's maps are keyed by the functions it traces: a key no traced
// function can have is refused before anything is injected, and so is a
// malformed declaration of results.
func TestAssertFuncKeys(t *testing.T) {
	cl := web(printing(`{"type": "map", "data": {"@calls": {"main.counterValue": 3}}}`, `{"type": "map", "data": {"@errors": {"main.counterValue": 0}}}`))
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--func", "main.counterValue", "--assert", `@calls["main.counterValu"] >= 3`}, `@calls["main.counterValu"] can never be written: --func traces main.counterValue`},
		{[]string{"--func", "main.count*", "--func", "main.b", "--assert", `@errors["main.x"] == 0`}, "--func traces main.count*, main.b"},
		{[]string{"--func", "main.counterValue=int,,error"}, "Go types separated by commas"},
	} {
		r := run(t, cl.Clients("ns"), nil, append([]string{"pod/web", "-c", "app"}, c.args...)...)
		if r.code != ExitUsage || !strings.Contains(r.err.Error(), c.want) {
			t.Errorf("%q: exit %d (%v), want %d saying %q", c.args, r.code, r.err, ExitUsage, c.want)
		}
	}
	p, err := cl.Client.CoreV1().Pods("ns").Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil || len(p.Spec.EphemeralContainers) != 0 {
		t.Fatalf("a refused assertion injected %d tracers (%v)", len(p.Spec.EphemeralContainers), err)
	}
	r := run(t, cl.Clients("ns"), nil, "pod/web", "-c", "app", "--func", "main.count*", "--assert", `@calls["main.counterValue"] >= 3`)
	if r.code != 0 {
		t.Fatalf("a key the pattern matches: exit %d (%v)\n%s", r.code, r.err, r.stderr)
	}
}

// A function whose errors the runner cannot see is left out of @errors; an
// assertion on @errors is then refused with the reason, never passed.
func TestAssertUnseenErrors(t *testing.T) {
	cl := web(printing(`{"type": "map", "data": {"@calls": {"main.counterValue": 3}}}`, `{"type": "map", "data": {"@errors": {}}}`))
	report := filepath.Join(t.TempDir(), "report.xml")
	r := run(t, cl.Clients("ns"), nil, "pod/web", "-c", "app", "--func", "main.counterValue", "--junit", report,
		"--assert", `@errors["main.counterValue"] == 0`, "--assert", `@calls["main.counterValue"] >= 3`)
	if r.code != ExitUsage || !strings.Contains(r.err.Error(), "the errors of main.counterValue cannot be seen") || !strings.Contains(r.stdout, "@calls[main.counterValue]: 3") {
		t.Fatalf("exit %d (%v), want %d naming the function\n%s\n%s", r.code, r.err, ExitUsage, r.stdout, r.stderr)
	}
	if s := readReport(t, report); s.Errors != 2 || s.Properties["exit-code"] != itoa(ExitUsage) {
		t.Fatalf("report %+v", s)
	}
	r = run(t, cl.Clients("ns"), nil, "pod/web", "-c", "app", "--func", "main.counterValue", "--assert", `@calls["main.counterValue"] >= 3`)
	if r.code != 0 {
		t.Fatalf("an assertion on @calls alone: exit %d (%v)\n%s", r.code, r.err, r.stderr)
	}

	// Beside a function whose errors are seen, only what reads the other's is refused.
	cl = web(printing(`{"type": "map", "data": {"@calls": {"main.counterValue": 3, "main.lookup": 3}}}`, `{"type": "map", "data": {"@errors": {"main.lookup": 0}}}`))
	for _, c := range []struct {
		expr string
		code int
	}{
		{`@errors["main.lookup"] == 0`, 0},
		{`@errors["main.counterValue"] == 0`, ExitUsage},
		{`@errors.all(f, @errors[f] == 0)`, ExitUsage},
	} {
		r = run(t, cl.Clients("ns"), nil, "pod/web", "-c", "app", "--func", "main.counterValue", "--func", "main.lookup", "--assert", c.expr)
		if r.code != c.code {
			t.Errorf("%s: exit %d (%v), want %d\n%s", c.expr, r.code, r.err, c.code, r.stderr)
		}
	}
}
