package debug

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/trace-debug/kubectl-trace-debug/debug/group"
	"github.com/trace-debug/kubectl-trace-debug/debug/junit"
	"github.com/trace-debug/kubectl-trace-debug/debug/pods"
	"github.com/trace-debug/kubectl-trace-debug/debug/progress"
	"github.com/trace-debug/kubectl-trace-debug/debug/session"
)

// Run injects the tracer into the pod (or each pod of the workload or
// selector), streams its output and returns its exit code as an error
// (nil when the tracer exited 0).
func (o *TraceOptions) Run(ctx context.Context) error {
	out := o.Out
	if o.OutputFile != "" {
		f, err := os.Create(o.OutputFile)
		if err != nil {
			return codef(ExitUsage, "open --output-file: %w", err)
		}
		defer f.Close()
		out = f
	}
	if o.CPU || o.Wall {
		if err := o.checkProfileOutput(); err != nil {
			return err
		}
	}
	if o.Checks.JUnit != "" { // a report that could not be written is found out before anything is injected
		f, err := os.Create(o.Checks.JUnit)
		if err != nil {
			return codef(ExitUsage, "open --junit: %w", err)
		}
		f.Close()
	}
	targets, err := o.targets(ctx)
	if err != nil {
		return err
	}
	if o.DryRun && len(targets.Running) > 1 {
		return codef(ExitUsage, "--dry-run takes one pod for now; %s has %d running pods: try one with pod/NAME", targets.What, len(targets.Running))
	}
	end, live := o.ending(out)
	streams := session.Streams{Out: live, ErrOut: o.ErrOut, Interrupts: o.Interrupts}
	cfg := group.TraceConfig{Request: o.request("", len(targets.Running) > 1 && !o.PerPod), End: end, OnReady: o.onReady}
	start := time.Now()
	outcome, err := group.Trace(ctx, o.Clients, targets, cfg, streams)
	if err != nil {
		return err
	}
	ok := "traced, exit code 0"
	if o.Detach {
		ok = "probes attached, running detached"
	}
	outcome.Report(o.ErrOut, ok, explain)
	if detached(outcome) {
		o.progress("%s", o.detachedNote(outcome, targets))
	}
	checks := &o.Checks
	if o.Detach || o.DryRun { // kept in its pods for stop; nothing ran
		checks = nil
	}
	return finish(o.ErrOut, checks, o.maps(), outcome, o.report(start))
}

// targets are the pods to trace: the pod the user named (read when its
// tracer starts), or the running pods of the workload or selector.
func (o *TraceOptions) targets(ctx context.Context) (pods.Targets, error) {
	if o.PodName != "" {
		return pods.Named(o.Clients.Namespace, o.PodName), nil
	}
	return o.resolve(ctx)
}

// ending is how the trace ends, and where its live output goes, with out
// the trace's output (stdout, or --output-file): a profile drawn (--cpu)
// or the goroutines shown (--goroutines) — the runners' talk then goes to
// stderr, out is theirs — or its final maps shown. A new mode's end goes
// here.
func (o *TraceOptions) ending(out io.Writer) (group.Ending, io.Writer) {
	switch {
	case o.CPU || o.Wall || o.Heap || o.Alloc:
		return &profileEnding{o, out}, o.ErrOut
	case o.Goroutines:
		return &goroutinesEnding{o, out}, o.ErrOut
	}
	m := o.maps()
	m.Merged = func(n int) { o.progress("maps merged across %d pods (--per-pod prints each pod's)", n) }
	return m, out
}

// report is what the JUnit report says of this trace, before its end.
func (o *TraceOptions) report(start time.Time) junit.Run {
	target := o.Workload
	switch {
	case o.PodName != "":
		target = "pod/" + o.PodName
	case o.Selector != "":
		target = "-l " + o.Selector
	}
	return junit.Run{Target: target, Namespace: o.Clients.Namespace, What: whatRan(o.session(o.Program), o.Program), Started: start, Duration: since(start)}
}

// maps says how the session's final maps are read and shown.
func (o *TraceOptions) maps() group.Maps {
	return group.Maps{Program: o.Program, Native: o.session(o.Program).Native(), JSON: o.OutputFormat == "json", PerPod: o.PerPod}
}

// onReady writes the ready file (--ready-file), once the probes are attached.
func (o *TraceOptions) onReady(name string) {
	if o.ReadyFile == "" {
		return
	}
	if err := writeReadyFile(o.ReadyFile, name); err != nil {
		o.progress("%v", err)
	}
}

// resolve resolves the workload or selector to its running pods, naming
// those it skips, and refuses more than --max-pods. Ctrl-C interrupts it.
func (o *TraceOptions) resolve(ctx context.Context) (pods.Targets, error) {
	var targets pods.Targets
	err := session.WhileInterruptible(ctx, o.Interrupts, "resolving the target", "", func(ctx context.Context) (err error) {
		targets, err = o.Clients.Resolve(ctx, o.Workload, o.Selector, o.AllNamespaces)
		return err
	})
	if err != nil {
		return pods.Targets{}, err
	}
	targets.What = selectorWhat(o.Selector, targets.What)
	if err := targets.Check(); err != nil {
		return pods.Targets{}, err
	}
	if len(targets.Running) > o.MaxPods {
		return pods.Targets{}, codef(ExitUsage, "resolve %s: it matches %d running pods, more than --max-pods %d: every pod would get a privileged tracer; narrow the selector, or raise --max-pods", targets.What, len(targets.Running), o.MaxPods)
	}
	o.progress("%s", targets.Describe())
	return targets, nil
}

// detached reports whether the session runs detached in every pod, its
// probes attached.
func detached(outcome group.Outcome) bool {
	for _, t := range outcome.Tracers {
		if !t.Detached() {
			return false
		}
	}
	return outcome.Result() == nil
}

// detachedNote says where a detached session runs, until when, and how
// to come back to it.
func (o *TraceOptions) detachedNote(outcome group.Outcome, targets pods.Targets) string {
	where, target := fmt.Sprintf("session %s runs detached in %d pods", outcome.Session, len(outcome.Pods)), o.targetArg(targets)
	if outcome.One {
		where, target = "tracer "+outcome.Session+" runs detached", "pod/"+outcome.Pods[0]
	}
	return fmt.Sprintf("%s until its deadline (%v)%s; %s%s", where, o.Deadline, durationNote(o.Duration), comeBack(target, outcome.Session), o.assertNote())
}

// targetArg is how the subcommands name this trace's pods.
func (o *TraceOptions) targetArg(targets pods.Targets) string {
	ns := o.Clients.Namespace
	if len(targets.Running) > 0 {
		ns = targets.Running[0].Namespace
	}
	if o.Selector != "" {
		return "-n " + ns + " -l " + o.Selector
	}
	return "-n " + ns + " " + o.Workload
}

// assertNote says, for a detached session, who checks its assertions.
func (o *TraceOptions) assertNote() string {
	if len(o.Checks.Exprs) == 0 {
		return ""
	}
	return fmt.Sprintf(", which checks its %d --assert expressions (exit 14 when one fails; add --junit FILE for a report)", len(o.Checks.Exprs))
}

// progress prints a line about what the command is doing to stderr.
func (o *TraceOptions) progress(format string, a ...any) { progress.Printf(o.ErrOut, format, a...) }

// selectorWhat names a selector's pods as the user gave them (-l SELECTOR)
// in messages; a workload keeps its name.
func selectorWhat(selector, what string) string {
	if selector != "" {
		return "-l " + selector
	}
	return what
}
