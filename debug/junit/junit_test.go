package junit

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trace-debug/kubectl-trace-debug/debug/assert"
)

// roundTrip writes s's report to a file and reads it back through the
// schema check.
func roundTrip(t *testing.T, s Run) Suite {
	t.Helper()
	path := filepath.Join(t.TempDir(), "report.xml")
	if err := WriteFile(path, s); err != nil {
		t.Fatal(err)
	}
	suites, err := ReadFile(path)
	if err != nil {
		b, _ := os.ReadFile(path)
		t.Fatalf("%v\n%s", err, b)
	}
	if len(suites) != 1 {
		t.Fatalf("%d suites, want 1", len(suites))
	}
	return suites[0]
}

func TestReport(t *testing.T) {
	started := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	base := Run{Name: "trace-debug-x7k2p", Target: "deployment/web", Namespace: "ns", Pods: []string{"web-1", "web-2"},
		What: "--func main.counterValue", Started: started, Duration: 1500 * time.Millisecond, Maps: "@calls[main.counterValue]: 2\n",
		Exprs: []string{`@calls["main.counterValue"] >= 3`, `@errors["main.counterValue"] == 0`}}
	results := []assert.Result{
		{Expr: base.Exprs[0], Seen: []string{`@calls = {"main.counterValue": 2}`}, Duration: time.Millisecond},
		{Expr: base.Exprs[1], Passed: true},
	}
	for _, c := range []struct {
		name                      string
		change                    func(*Run)
		tests, failures, skipped  int
		traceFailure, firstAssert string
	}{
		{"all held", func(s *Run) {
			s.Assertions, s.Evaluated = []assert.Result{{Expr: s.Exprs[0], Passed: true}, results[1]}, true
		}, 3, 0, 0, "", ""},
		{"one failed", func(s *Run) { s.Assertions, s.Evaluated, s.ExitCode = results, true, 14 },
			3, 1, 0, "", `assertion @calls["main.counterValue"] >= 3 failed; saw @calls = {"main.counterValue": 2}`},
		{"trace failed", func(s *Run) { s.Err, s.ExitCode, s.Maps = errors.New("tracer refused the program"), 8, "" },
			3, 1, 2, "tracer refused the program", ""},
	} {
		s := base
		c.change(&s)
		got := roundTrip(t, s)
		if got.Tests != c.tests || got.Failures+got.Errors != c.failures || got.Skipped != c.skipped {
			t.Errorf("%s: %d tests, %d failures, %d skipped; want %d, %d, %d", c.name, got.Tests, got.Failures+got.Errors, got.Skipped, c.tests, c.failures, c.skipped)
		}
		trace := got.Cases[0]
		if trace.Name != "trace deployment/web" || trace.Failure != c.traceFailure || trace.Time != 1500*time.Millisecond {
			t.Errorf("%s: trace case %+v", c.name, trace)
		}
		if c.traceFailure == "" && trace.SystemOut != s.Maps {
			t.Errorf("%s: trace output %q, want the maps", c.name, trace.SystemOut)
		}
		if got.Cases[1].Name != "assert "+s.Exprs[0] || got.Cases[1].Failure != c.firstAssert {
			t.Errorf("%s: first assertion %+v", c.name, got.Cases[1])
		}
		for k, v := range map[string]string{"session": "trace-debug-x7k2p", "pods": "web-1,web-2", "namespace": "ns", "program": "--func main.counterValue"} {
			if got.Properties[k] != v {
				t.Errorf("%s: property %s = %q, want %q", c.name, k, got.Properties[k], v)
			}
		}
	}
}

// Read refuses what the schema does not allow.
func TestReadRefuses(t *testing.T) {
	for doc, want := range map[string]string{
		`<testsuite name="x" tests="0"></testsuite>`:                                                                                           "root is <testsuite>",
		`<testsuites><testcase name="x"/></testsuites>`:                                                                                        "<testsuites> may not hold <testcase>",
		`<testsuites><testsuite name="x" tests="1"><testcase classname="y"/></testsuite></testsuites>`:                                         "<testcase> lacks its name",
		`<testsuites><testsuite name="x" tests="2"><testcase name="a"/></testsuite></testsuites>`:                                              "says 2 tests",
		`<testsuites><testsuite name="x" tests="1" failures="0"><testcase name="a"><failure message="m"/></testcase></testsuite></testsuites>`: "0 failures",
		`<testsuites><testsuite name="x" tests="1" time="soon"><testcase name="a"/></testsuite></testsuites>`:                                  "not seconds",
		`<testsuites><testsuite name="x" tests="1" color="red"><testcase name="a"/></testsuite></testsuites>`:                                  "no attribute color",
		`<testsuites></testsuites>`: "no test suite",
	} {
		_, err := Read(strings.NewReader(doc))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one containing %q", doc, err, want)
		}
	}
}
