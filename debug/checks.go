package debug

import (
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/trace-debug/kubectl-trace-debug/bpf/mapmerge"
	"github.com/trace-debug/kubectl-trace-debug/bpf/program"
	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
	"github.com/trace-debug/kubectl-trace-debug/debug/assert"
	"github.com/trace-debug/kubectl-trace-debug/debug/group"
	"github.com/trace-debug/kubectl-trace-debug/debug/junit"
	"github.com/trace-debug/kubectl-trace-debug/debug/pods"
	"github.com/trace-debug/kubectl-trace-debug/debug/progress"
)

// Checks are a session's --assert expressions and its --junit report:
// compiled against the maps the session declares before anything is
// injected, checked on its final maps (one pod's, or its pods' merged),
// reported on stderr and in the report, and turned into the exit code.
type Checks struct {
	// Exprs are the assertions as written; JUnit the report's path.
	Exprs []string
	JUnit string

	set *assert.Set
	// maps are, for a found session, the maps it declares.
	maps assert.Maps
	// engine is what the session runs.
	engine protocol.Engine
}

// active reports whether the session's end is checked or reported.
func (c *Checks) active() bool { return len(c.Exprs) > 0 || c.JUnit != "" }

// declaredMaps are the maps a session declares: its native engine's own,
// or those its bpftrace program uses, with their aggregations.
func declaredMaps(prog string, engine protocol.Engine) assert.Maps {
	maps := assert.Maps{}
	if _, native := protocol.NativeModeMaps[engine]; native {
		kinds := mapmerge.KindsOf(nativeFns(engine))
		for name, k := range kinds {
			maps[name] = k
		}
		return maps
	}
	for name, k := range mapmerge.Kinds(prog) {
		maps[name] = k
	}
	if p, err := program.Parse(prog); err == nil {
		for _, name := range p.Maps() {
			if _, ok := maps[name]; !ok {
				maps[name] = mapmerge.Unknown
			}
		}
	}
	return maps
}

// programMaps are the maps a bpftrace program declares, with the
// aggregation function of each ("" when it has none), as a session whose
// program goes on stdin keeps them in its pod.
func programMaps(prog string) map[string]string {
	p, err := program.Parse(prog)
	if err != nil {
		return nil
	}
	out := map[string]string{}
	for _, name := range p.Maps() {
		out[name] = ""
	}
	for name, how := range p.Aggregations() {
		if _, declared := out[name]; declared {
			out[name] = how
		}
	}
	return out
}

// nativeFns are the aggregation functions of engine's maps.
func nativeFns(engine protocol.Engine) map[string]string {
	fns := map[string]string{}
	for _, name := range protocol.NativeModeMaps[engine] {
		fns[name] = protocol.NativeMaps[name]
	}
	return fns
}

// compile compiles the assertions against maps; a bad one is a usage
// error, before anything is injected.
func (c *Checks) compile(maps assert.Maps) error {
	if len(c.Exprs) == 0 {
		return nil
	}
	set, err := assert.Compile(c.Exprs, maps)
	if err != nil {
		return codef(ExitUsage, "check --assert: %w; an assertion is a CEL expression on the maps the trace prints at its end, such as --assert '@errors == 0' (see --help)", err)
	}
	c.set = set
	return nil
}

// funcKeys refuses an assertion that reads a --func map by a key no traced
// function can have: --func's maps are keyed by the functions it traces,
// so a misspelled name would read 0 for ever.
func (c *Checks) funcKeys(funcs []string) error {
	if c.set == nil || len(funcs) == 0 {
		return nil
	}
	var patterns []string
	for _, f := range funcs {
		p, _, _ := protocol.SplitFunc(f)
		patterns = append(patterns, p)
	}
	for _, a := range c.set.List {
		for _, m := range protocol.NativeModeMaps[protocol.EngineFunc] {
			for _, key := range a.Keys[m] {
				if !slices.ContainsFunc(patterns, func(p string) bool { ok, _ := path.Match(p, key); return ok }) {
					return codef(ExitUsage, "check --assert %q: %s[%q] can never be written: --func traces %s, and its maps are keyed by those functions; check the name", a.Expr, m, key, strings.Join(patterns, ", "))
				}
			}
		}
	}
	return nil
}

// unseenErrors refuses, once the maps are read, an assertion on @errors
// while some traced function's errors could not be seen: the runner leaves
// such a function (called, in @calls) out of @errors (it said why on
// stderr), where it would otherwise read as never failing.
func (c *Checks) unseenErrors(d *mapmerge.Dump) error {
	if c.set == nil || d == nil || c.engine != protocol.EngineFunc {
		return nil
	}
	calls, errs := d.Find("@calls"), d.Find("@errors")
	var unseen []string
	if calls != nil {
		for _, k := range calls.Keys {
			if errs == nil || errs.Entries[k] == nil {
				unseen = append(unseen, k)
			}
		}
	}
	if len(unseen) == 0 {
		return nil
	}
	for _, a := range c.set.List {
		if !slices.Contains(a.Refs, "@errors") {
			continue
		}
		reads := unseen // an assertion that reads @errors as a whole reads them all
		if keys := a.Keys["@errors"]; len(keys) > 0 && !a.Whole["@errors"] {
			reads = slices.DeleteFunc(slices.Clone(unseen), func(f string) bool { return !slices.Contains(keys, f) })
		}
		if len(reads) > 0 {
			return codef(ExitUsage, "check --assert %q: the errors of %s cannot be seen (the runner's line above says why: its last result is not an error, or a binary without DWARF whose results were not declared), so @errors leaves it out; "+
				"declare its results (--func 'NAME=int,error') or drop the assertion", a.Expr, strings.Join(reads, ", "))
		}
	}
	return nil
}

// finish checks the assertions on the final maps d, which merge what the
// session's pods printed after the runner's maps line; unread are the pods
// that ended well but printed no such line, so their maps were not read
// (d is then incomplete, or nil). It prints each result on stderr, writes
// the JUnit report (run says what ran; text is the maps as printed), and
// returns the command's error: the trace's own when it failed (traceErr);
// else exit 14 when an assertion did not hold, or when the maps were not
// read: a verdict is only given on maps that were read.
func (c *Checks) finish(errOut io.Writer, d *mapmerge.Dump, unread []string, traceErr error, run junit.Run) error {
	run.Exprs, run.Err, run.ExitCode = c.Exprs, traceErr, ExitCode(traceErr)
	var results []assert.Result
	read := d != nil && len(unread) == 0
	refused := c.unseenErrors(d)
	switch {
	case c.set == nil:
	case refused != nil:
		run.NotEvaluated = refused.Error()
	case read || traceErr != nil && d != nil:
		results = c.set.Check(d, len(run.Pods))
		run.Assertions, run.Evaluated = results, true
		for _, r := range results {
			progress.Printf(errOut, "%s", r.Message())
		}
	case traceErr == nil:
		run.NotEvaluated = notRead(unread)
		for _, e := range c.Exprs {
			progress.Printf(errOut, "assertion %s not evaluated: %s", e, run.NotEvaluated)
		}
	}
	failed := assert.Failed(results)
	err := traceErr
	switch {
	case err != nil:
	case refused != nil:
		err, run.ExitCode = refused, ExitUsage
	case run.NotEvaluated != "":
		err = codef(ExitAssertFailed, "the %d assertions were not evaluated: the trace's final maps were not read (above), and an assertion passes only on maps that were", len(c.Exprs))
		run.ExitCode = ExitAssertFailed
	case failed > 0:
		err = codef(ExitAssertFailed, "%d of the %d assertions did not hold (each is above, with the values it saw)", failed, len(results))
		run.ExitCode = ExitAssertFailed
	}
	if c.JUnit != "" {
		if werr := junit.WriteFile(c.JUnit, run); werr != nil {
			progress.Printf(errOut, "%v", werr)
			if err == nil {
				err = codef(ExitUsage, "%w: check the --junit path", werr)
			}
		} else {
			progress.Printf(errOut, "JUnit report written to %s", c.JUnit)
		}
	}
	return err
}

// notRead says why a session's final maps were not read.
func notRead(unread []string) string {
	what := "pod " + strings.Join(unread, ", ")
	if len(unread) > 1 {
		what = "pods " + strings.Join(unread, ", ")
	}
	return fmt.Sprintf("the trace printed no final maps the client could read (%s): its runner did not mark them with %q "+
		"(a runner image older than this client, or a tracer that ended without printing its maps)", what, protocol.MapsLine)
}

// mapsText is d as bpftrace's text prints it, for the report.
func mapsText(m group.Maps, d *mapmerge.Dump) string {
	if d == nil {
		return ""
	}
	var b strings.Builder
	_ = m.WriteText(&b, d)
	return b.String()
}

// since is how long ago start was, to the millisecond.
func since(start time.Time) time.Duration { return time.Since(start).Round(time.Millisecond) }

// finish is the end of a found session (stop, attach): its outcome, and
// the assertions it keeps checked on the final maps its end read, with
// report the path of its report ("" for none). Their compiling cannot
// fail but for a session written by another client version, which is
// then reported.
func (o *SubcommandOptions) finish(outcome group.Outcome, report string, start time.Time) error {
	info := outcome.Tracers[0].Info // found: every pod holds the session
	c := &Checks{Exprs: info.Asserts, JUnit: report, engine: info.Engine()}
	maps := declaredMaps(info.Program, c.engine)
	if info.ProgramOnStdin { // its text is not in the pod: its maps are kept there (or, from an older client, those its assertions read)
		maps = assert.MapsIn(info.Asserts)
		if len(info.Maps) > 0 {
			maps = assert.Maps(mapmerge.KindsOf(info.Maps))
		}
	}
	if err := c.compile(maps); err != nil {
		return err
	}
	return finish(o.ErrOut, c, group.SessionMaps(info), outcome, o.foundRun(info, start))
}

// foundRun is what a found session's report says of it, before its end
// (start: when the subcommand began, for a session that does not say
// when it started).
func (o *SubcommandOptions) foundRun(info pods.SessionInfo, start time.Time) junit.Run {
	run := junit.Run{Target: o.target(), Namespace: info.Namespace, What: whatRan(info.Session, info.Program), Started: info.Started, Duration: since(info.Started)}
	if info.Started.IsZero() {
		run.Started, run.Duration = start, since(start)
	}
	return run
}

// finish is where every session ends in the command layer, whatever
// command ends it, over one pod or several, whatever it ran: the
// outcome's result and, when the session is checked (c, nil for none),
// its assertions on the final maps its end read, and its report (run
// says what ran; maps how its maps are written as text).
func finish(errOut io.Writer, c *Checks, maps group.Maps, outcome group.Outcome, run junit.Run) error {
	err := outcome.Result()
	if c == nil || !c.active() {
		return err
	}
	run.Name, run.Pods = outcome.Session, outcome.Pods
	for _, t := range outcome.Tracers {
		if t != nil {
			run.Namespace = t.Namespace
			break
		}
	}
	run.Maps = mapsText(maps, outcome.Maps)
	return c.finish(errOut, outcome.Maps, outcome.Unread, err, run)
}

// whatRan says what a session ran, for its report: its program (as
// given), or the flags that chose its native engine.
func whatRan(s protocol.Session, program string) string {
	switch s.Engine() {
	case protocol.EngineSyscalls:
		return "--syscalls"
	case protocol.EngineFunc:
		return "--func " + strings.Join(s.Funcs, " --func ")
	case protocol.EngineCPU:
		return fmt.Sprintf("--cpu --hz %d", s.CPUHz)
	case protocol.EngineGoroutines:
		return "--goroutines"
	case protocol.EngineWall:
		return fmt.Sprintf("--wall --hz %d", s.WallHz)
	}
	return program
}
