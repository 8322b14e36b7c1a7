package debug

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
	"github.com/trace-debug/kubectl-trace-debug/debug/kube/kubetest"
)

// update rewrites the pinned outputs (go test ./debug -run TestEndsPinned -update).
var update = flag.Bool("update", false, "rewrite testdata/ends from what the commands print now")

// pinnedNames are the session names a run picks, and the temporary paths
// it names, made the same in every run.
var pinnedNames = regexp.MustCompile(`trace-debug-[a-z0-9]{5}\b`)

// pinnedTimes are the wall-clock times a run writes (a dry run's deadline).
var pinnedTimes = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`)

// endCase is a sequence of commands whose whole output is pinned.
type endCase struct {
	name   string
	script func(pod string) kubetest.Script
	// runs are the commands, in order; NAME is the session the first
	// printed, REPORT a report's path.
	runs [][]string
	// sorted compares the lines in sorted order: over several pods, lines
	// of different pods come in any order.
	sorted bool
}

// endCases cover every way a session ends, over one pod and several.
func endCases() []endCase {
	plain := func(string) kubetest.Script {
		return kubetest.Script{Lines: []kubetest.Line{readyLine, kubetest.Out("hello"), kubetest.Out("@calls: 2"), result0}, ExitAfterLines: true}
	}
	funcs := printing(`{"type": "map", "data": {"@calls": {"main.counterValue": 3}}}`, `{"type": "map", "data": {"@errors": {"main.counterValue": 0}}}`)
	rejected := func(string) kubetest.Script {
		return kubetest.Script{Lines: []kubetest.Line{kubetest.Err("ERROR: nope"), kubetest.Err(protocol.ResultLine(protocol.ExitProgramRejected))},
			ExitAfterLines: true, ExitCode: protocol.ExitProgramRejected}
	}
	detached := func(string) kubetest.Script {
		return kubetest.Script{Lines: []kubetest.Line{readyLine, kubetest.Out("hello")},
			OnStop: []kubetest.Line{kubetest.Out(protocol.MapsLine), kubetest.Out("@calls: 2"), result0}}
	}
	prog := []string{"-c", "app", "-e", "BEGIN { @calls = count(); }"}
	with := func(target []string, rest ...string) []string { return append(append([]string{}, target...), rest...) }
	one, all := []string{"pod/web"}, []string{"-l", "app=web"}
	var cases []endCase
	for _, t := range []struct {
		what   string
		target []string
	}{{"one", one}, {"all", all}} {
		sorted := t.what == "all"
		stopTarget := t.target
		cases = append(cases,
			endCase{t.what + "-plain", plain, [][]string{with(t.target, prog...)}, sorted},
			endCase{t.what + "-json", printing(`{"type": "map", "data": {"@calls": 2}}`), [][]string{with(t.target, append(prog, "-o", "json", "--assert", "@calls > 0")...)}, sorted},
			endCase{t.what + "-assert", printing("@calls: 2"), [][]string{with(t.target, append(prog, "--assert", "@calls >= 3", "--junit", "REPORT")...)}, sorted},
			endCase{t.what + "-unmarked", plain, [][]string{with(t.target, append(prog, "--assert", "@calls > 0")...)}, sorted},
			endCase{t.what + "-func", funcs, [][]string{with(t.target, "-c", "app", "--func", "main.counterValue", "--assert", `@calls["main.counterValue"] >= 3`)}, sorted},
			endCase{t.what + "-cpu", profiler, [][]string{with(t.target, "-c", "app", "--cpu", "-o", "folded")}, sorted},
			endCase{t.what + "-rejected", rejected, [][]string{with(t.target, append(prog, "--assert", "@calls > 0")...)}, sorted},
			endCase{t.what + "-detach-stop", detached, [][]string{
				with(t.target, append(prog, "--detach", "--duration", "10s", "--assert", "@calls >= 3")...),
				with(append([]string{"logs"}, stopTarget...), "NAME"),
				with(append([]string{"stop"}, stopTarget...), "NAME", "--junit", "REPORT"),
				with(append([]string{"logs"}, stopTarget...), "NAME"),
			}, sorted},
			endCase{t.what + "-detach-attach", detached, [][]string{
				with(t.target, append(prog, "--detach")...),
				with(append([]string{"attach"}, stopTarget...), "NAME"),
			}, sorted},
		)
	}
	cases = append(cases, endCase{"one-dry-run", plain, [][]string{with(one, append(prog, "--dry-run")...)}, false},
		endCase{"one-dry-run-assert", plain, [][]string{with(one, append(prog, "--dry-run", "--assert", "@calls > 0")...)}, false})
	return cases
}

// The output of every end, over one pod and several, stays what it was:
// pinned before the ends became one path, byte for byte for one pod (the
// lines in sorted order over several, whose pods interleave).
func TestEndsPinned(t *testing.T) {
	for _, c := range endCases() {
		t.Run(c.name, func(t *testing.T) {
			got := runEnd(t, c)
			golden := filepath.Join("testdata", "ends", c.name+".txt")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("read the pinned output (make it with -update): %v", err)
			}
			if got != string(want) {
				t.Errorf("%s changed:\n--- got\n%s\n--- want\n%s", c.name, got, want)
			}
		})
	}
}

// runEnd runs c's commands against a fresh cluster and returns what they
// printed, with the session's name and the report's path made constant.
func runEnd(t *testing.T, c endCase) string {
	t.Helper()
	cl := web(c.script)
	report := filepath.Join(t.TempDir(), "report.xml")
	var b strings.Builder
	name := "NAME"
	for _, args := range c.runs {
		args = slices.Clone(args)
		for i, a := range args {
			switch a {
			case "NAME":
				args[i] = name
			case "REPORT":
				args[i] = report
			}
		}
		var interrupts chan os.Signal
		if args[0] == "attach" { // the user stops the session it follows
			interrupts = make(chan os.Signal, 1)
			go func() { time.Sleep(300 * time.Millisecond); interrupts <- os.Interrupt }()
		}
		r := run(t, cl.Clients("ns"), interrupts, args...)
		if name == "NAME" {
			if m := pinnedNames.FindString(r.stdout); m != "" {
				name = m
			}
		}
		norm := func(s string) string {
			s = strings.ReplaceAll(s, report, "REPORT")
			s = pinnedNames.ReplaceAllString(s, "trace-debug-NAME")
			s = pinnedTimes.ReplaceAllString(s, "TIME")
			if c.sorted && s != "" {
				lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
				slices.Sort(lines)
				s = strings.Join(lines, "\n") + "\n"
			}
			return s
		}
		fmt.Fprintf(&b, "$ %s\n--- stdout\n%s--- stderr\n%s--- exit %d\n", strings.Join(args, " "), norm(r.stdout), norm(r.stderr), r.code)
	}
	return pinnedNames.ReplaceAllString(strings.ReplaceAll(b.String(), report, "REPORT"), "trace-debug-NAME")
}
