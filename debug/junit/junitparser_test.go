//go:build external

package junit

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trace-debug/kubectl-trace-debug/debug/assert"
)

// readByJunitparser is what junitparser (Debian's python3-junitparser, a
// JUnit XML library CI tooling is built on, and no code of ours) reads of
// a report: per suite its counts, then per case its result.
const readByJunitparser = `
import sys
from junitparser import JUnitXml, Failure, Error, Skipped
xml = JUnitXml.fromfile(sys.argv[1])
for suite in xml:
    print("suite %s tests=%d failures=%d errors=%d skipped=%d time=%.3f" % (suite.name, suite.tests, suite.failures, suite.errors, suite.skipped, suite.time))
    props = {p.name: p.value for p in suite.properties()}
    print("properties exit-code=%s pods=%s" % (props.get("exit-code"), props.get("pods")))
    for case in suite:
        kinds = [type(r).__name__ for r in case.result]
        print("case %s: %s" % (case.name, ",".join(kinds) or "passed"))
`

// Every kind of report the trace writes is read by an independent JUnit
// reader as it is meant: the counts, the properties, and each case passed,
// failed, in error (assertions not evaluated) or skipped.
func TestReportsAsJunitparserReadsThem(t *testing.T) {
	if _, err := exec.LookPath("/usr/bin/python3"); err != nil {
		t.Fatalf("no /usr/bin/python3 (scripts/deps.sh installs python3-junitparser): %v", err)
	}
	base := Run{Name: "trace-debug-x7k2p", Target: "pod/web", Namespace: "ns", Pods: []string{"web"}, What: "--func main.lookup",
		Started: time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC), Duration: 1500 * time.Millisecond, Maps: "@calls[main.lookup]: 3\n",
		Exprs: []string{`@errors["main.lookup"] == 0`, `@calls["main.lookup"] >= 3`}}
	for _, c := range []struct {
		name   string
		change func(*Run)
		want   string
	}{
		{"held", func(s *Run) {
			s.Assertions, s.Evaluated = []assert.Result{{Expr: s.Exprs[0], Passed: true}, {Expr: s.Exprs[1], Passed: true}}, true
		}, "tests=3 failures=0 errors=0 skipped=0|exit-code=0 pods=web|trace pod/web: passed|assert @errors[\"main.lookup\"] == 0: passed"},
		{"failed", func(s *Run) {
			s.Assertions, s.Evaluated, s.ExitCode = []assert.Result{{Expr: s.Exprs[0], Seen: []string{`@errors = {"main.lookup": 1}`}}, {Expr: s.Exprs[1], Passed: true}}, true, 14
		}, "tests=3 failures=1 errors=0 skipped=0|exit-code=14|assert @errors[\"main.lookup\"] == 0: Failure"},
		{"not evaluated", func(s *Run) {
			s.NotEvaluated, s.ExitCode = "the trace printed no final maps the client could read (pod web)", 14
		},
			"tests=3 failures=0 errors=2 skipped=0|assert @errors[\"main.lookup\"] == 0: Error|assert @calls[\"main.lookup\"] >= 3: Error"},
		{"trace failed", func(s *Run) { s.Err, s.ExitCode, s.Maps = errors.New("tracer refused the program"), 8, "" },
			"tests=3 failures=1 errors=0 skipped=2|exit-code=8|trace pod/web: Failure|assert @calls[\"main.lookup\"] >= 3: Skipped"},
	} {
		s := base
		c.change(&s)
		path := filepath.Join(t.TempDir(), "report.xml")
		if err := WriteFile(path, s); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("/usr/bin/python3", "-c", readByJunitparser, path).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: junitparser could not read the report: %v\n%s", c.name, err, out)
		}
		for _, want := range strings.Split(c.want, "|") {
			if !strings.Contains(string(out), want) {
				t.Errorf("%s: junitparser read no %q:\n%s", c.name, want, out)
			}
		}
	}
}
