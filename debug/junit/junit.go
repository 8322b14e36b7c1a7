// Package junit writes a trace session's JUnit XML report, the format CI
// systems render as a test page: one test suite per session, one test case
// for the trace itself and one per assertion, with the pods traced, the
// session's name and durations as properties and times. It builds the
// report with go-junit-report's junit types, a library kept for exactly
// this format, and knows no flags and no cluster.
package junit

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jstemmer/go-junit-report/v2/junit"

	"github.com/trace-debug/kubectl-trace-debug/debug/assert"
)

// Run is what the report tells of one session.
type Run struct {
	// Name is the session's name; Target what was traced (pod/web,
	// deployment/web); Namespace where.
	Name, Target, Namespace string
	// Pods are the pods traced.
	Pods []string
	// What says what ran: the program, or the native mode.
	What string
	// Started is when the command started; Duration how long the trace took.
	Started  time.Time
	Duration time.Duration
	// Err is the trace's own failure (nil when it ran to its end) and
	// ExitCode the command's exit code for it.
	Err      error
	ExitCode int
	// Maps are the final maps as printed, for the trace's output.
	Maps string
	// Assertions are the assertions' results; Exprs the assertions, which
	// are reported as skipped when they were not evaluated (Evaluated false:
	// the trace printed no maps).
	Assertions []assert.Result
	Exprs      []string
	Evaluated  bool
	// NotEvaluated, when set, says why the assertions were not evaluated
	// although the trace ran to its end (its final maps were not read):
	// each is then reported as an error, never skipped or passed.
	NotEvaluated string
}

// Report builds the report of s.
func Report(s Run) junit.Testsuites {
	suite := junit.Testsuite{Name: "kubectl-trace-debug " + s.Name, Time: seconds(s.Duration)}
	if !s.Started.IsZero() {
		suite.SetTimestamp(s.Started)
	}
	suite.AddProperty("session", s.Name)
	suite.AddProperty("target", s.Target)
	suite.AddProperty("namespace", s.Namespace)
	suite.AddProperty("pods", strings.Join(s.Pods, ","))
	suite.AddProperty("program", s.What)
	suite.AddProperty("exit-code", strconv.Itoa(s.ExitCode))
	class := "kubectl-trace-debug." + s.Name
	trace := junit.Testcase{Name: "trace " + s.Target, Classname: class, Time: seconds(s.Duration)}
	if s.Err != nil {
		trace.Failure = &junit.Result{Message: s.Err.Error(), Type: fmt.Sprintf("exit %d", s.ExitCode), Data: s.Err.Error()}
	}
	if s.Maps != "" {
		trace.SystemOut = &junit.Output{Data: s.Maps}
	}
	suite.AddTestcase(trace)
	if s.Evaluated {
		for _, r := range s.Assertions {
			tc := junit.Testcase{Name: "assert " + r.Expr, Classname: class, Time: seconds(r.Duration)}
			if !r.Passed {
				tc.Failure = &junit.Result{Message: r.Message(), Type: "assertion", Data: r.Message()}
			}
			suite.AddTestcase(tc)
		}
	} else {
		for _, expr := range s.Exprs {
			tc := junit.Testcase{Name: "assert " + expr, Classname: class}
			if s.NotEvaluated != "" {
				tc.Error = &junit.Result{Message: "not evaluated: " + s.NotEvaluated, Type: "not-evaluated", Data: s.NotEvaluated}
			} else {
				tc.Skipped = &junit.Result{Message: "not evaluated: the trace failed before it printed its maps"}
			}
			suite.AddTestcase(tc)
		}
	}
	var all junit.Testsuites
	all.Name = "kubectl-trace-debug"
	all.Time = suite.Time
	all.AddSuite(suite)
	return all
}

// WriteFile writes s's report to path.
func WriteFile(path string, s Run) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write JUnit report: %w", err)
	}
	all := Report(s)
	err = all.WriteXML(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write JUnit report %s: %w", path, err)
	}
	return nil
}

// seconds is d as JUnit writes times.
func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }
