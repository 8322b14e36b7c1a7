package debug

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/trace-debug/kubectl-trace-debug/bpf/mapmerge"
	"github.com/trace-debug/kubectl-trace-debug/debug/group"
	"github.com/trace-debug/kubectl-trace-debug/debug/junit"
	"github.com/trace-debug/kubectl-trace-debug/debug/kube"
	"github.com/trace-debug/kubectl-trace-debug/debug/pods"
	"github.com/trace-debug/kubectl-trace-debug/debug/session"
)

// Run injects the tracer into the pod (or each pod of the workload or
// selector), streams its output and returns its exit code as an error
// (nil when the tracer exited 0).
func (o *TraceOptions) Run(ctx context.Context) error {
	if o.OutputFile != "" {
		f, err := os.Create(o.OutputFile)
		if err != nil {
			return codef(ExitUsage, "open --output-file: %w", err)
		}
		defer f.Close()
		o.Out = f
	}
	if o.CPU {
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
	c, pod := o.Clients, o.PodName
	var skipped pods.Targets
	if pod == "" {
		targets, err := o.resolve(ctx)
		if err != nil {
			return err
		}
		if len(targets.Running) > 1 {
			return o.runGroup(ctx, targets)
		}
		pod, c, skipped = targets.Running[0].Name, c.In(targets.Running[0].Namespace), targets
	}
	streams := o.streams()
	var final *group.Final
	switch {
	case o.CPU: // the profile comes after the maps line; what precedes it is the runner's talk
		final = &group.Final{Live: o.ErrOut}
		streams.Out = final
	case o.Checks.active() && !o.Detach && !o.DryRun: // the final maps come after the maps line, to be checked
		final = &group.Final{Live: o.Out}
		streams.Out = final
	}
	start := time.Now()
	t, err := session.Trace(ctx, c, o.request(pod, false), streams)
	if o.Checks.active() && !o.Detach && !o.DryRun {
		return o.finishOne(t, final, err, start, skipped)
	}
	if o.CPU && t != nil {
		final.Close()
		kept, found := final.Kept()
		if rerr := o.showProfile([]string{t.Pod}, []string{kept}, []bool{found}, t.Target); err == nil {
			err = rerr
		}
	}
	if err == nil && t.Detached() {
		o.progress("tracer %s runs detached until its deadline (%v)%s; follow it with `kubectl trace-debug attach pod/%s %s`, end it with %s%s",
			t.Name, o.Deadline, o.durationNote(), t.Pod, t.Name, stopCommand(t.Pod, t.Name), o.assertNote())
	}
	if err == nil {
		return partial(skipped)
	}
	return err
}

// partial is the result of a trace of the one running pod of several.
func partial(skipped pods.Targets) error {
	if len(skipped.Skipped) == 0 {
		return nil
	}
	return codef(ExitPartial, "traced 1 pod; %d not traced: %s", len(skipped.Skipped), skipped.SkippedList())
}

// finishOne shows one pod's final maps as it printed them, checks them
// and writes the report; a trace that failed keeps its own exit code.
func (o *TraceOptions) finishOne(t *session.Tracer, final *group.Final, err error, start time.Time, skipped pods.Targets) error {
	final.Close()
	maps := o.groupMaps()
	var d *mapmerge.Dump
	var unread []string
	if kept, found := final.Kept(); found {
		var serr error
		d, serr = maps.ShowOne(o.Out, kept)
		if err == nil && serr != nil {
			err = codef(ExitInternal, "write the final maps: %w", serr)
		}
	} else if t != nil {
		unread = []string{t.Pod}
	}
	if err == nil {
		err = partial(skipped)
	}
	run := o.report(start)
	if t != nil {
		run.Name, run.Pods, run.Namespace = t.Name, []string{t.Pod}, t.Namespace
	}
	run.Maps = mapsText(maps, d)
	return o.Checks.finish(o.ErrOut, d, unread, err, run)
}

// report is what the JUnit report says of this trace, before its end.
func (o *TraceOptions) report(start time.Time) junit.Session {
	target := o.Workload
	switch {
	case o.PodName != "":
		target = "pod/" + o.PodName
	case o.Selector != "":
		target = "-l " + o.Selector
	}
	return junit.Session{Target: target, Namespace: o.Clients.Namespace, What: whatRan(o.session(o.Program), o.Program), Started: start, Duration: since(start)}
}

// groupMaps says how the session's final maps are read and shown.
func (o *TraceOptions) groupMaps() group.Maps {
	return group.Maps{Program: o.Program, Native: o.session(o.Program).Native(), JSON: o.OutputFormat == "json", PerPod: o.PerPod}
}

// streams are the session's streams: the command's, the user's signals,
// and the ready file written once the probes are attached.
func (o *TraceOptions) streams() session.Streams {
	return session.Streams{Out: o.Out, ErrOut: o.ErrOut, Interrupts: o.Interrupts, OnReady: o.onReady}
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

// runGroup traces several pods in one session (see group.Trace) and
// reports each pod's outcome.
func (o *TraceOptions) runGroup(ctx context.Context, targets pods.Targets) error {
	if o.DryRun {
		return codef(ExitUsage, "--dry-run takes one pod for now; %s has %d running pods: try one with pod/NAME", targets.What, len(targets.Running))
	}
	cfg := group.TraceConfig{
		Request: o.request("", !o.PerPod),
		Maps:    o.groupMaps(),
		Merged:  func(n int) { o.progress("maps merged across %d pods (--per-pod prints each pod's)", n) },
		OnReady: o.onReady,
	}
	streams := o.streams()
	start := time.Now()
	if o.CPU { // stdout is the profile's; the runners' talk goes to stderr
		cfg.Finals = func(pods, kept []string, found []bool) error { return o.showProfile(pods, kept, found, o.Container) }
		streams.Out = o.ErrOut
	}
	outcome, err := group.Trace(ctx, o.Clients, targets, cfg, streams)
	if err != nil {
		return err
	}
	ok := "traced, exit code 0"
	if o.Detach {
		ok = "probes attached, running detached"
	}
	outcome.Report(o.ErrOut, ok, explain)
	err = outcome.Result()
	if o.Checks.active() && !o.Detach {
		run := o.report(start)
		run.Name, run.Pods, run.Namespace = outcome.Session, outcome.Pods, targets.Running[0].Namespace
		run.Maps = mapsText(cfg.Maps, outcome.Maps)
		return o.Checks.finish(o.ErrOut, outcome.Maps, outcome.Unread, err, run)
	}
	if o.Detach && err == nil {
		target := o.targetArg(targets)
		o.progress("session %s runs detached in %d pods until its deadline (%v)%s; follow it with `kubectl trace-debug attach %s %s`, end it with `kubectl trace-debug stop %s %s`%s",
			outcome.Session, len(targets.Running), o.Deadline, o.durationNote(), target, outcome.Session, target, outcome.Session, o.assertNote())
	}
	return err
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

// durationNote names --duration in the detached messages, when set.
func (o *TraceOptions) durationNote() string {
	if o.Duration > 0 {
		return fmt.Sprintf(" or for --duration %v", o.Duration)
	}
	return ""
}

// progress prints a line about what the command is doing to stderr.
func (o *TraceOptions) progress(format string, a ...any) { kube.Progressf(o.ErrOut, format, a...) }

// selectorWhat names a selector's pods as the user gave them (-l SELECTOR)
// in messages; a workload keeps its name.
func selectorWhat(selector, what string) string {
	if selector != "" {
		return "-l " + selector
	}
	return what
}
