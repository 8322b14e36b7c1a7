package debug

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"

	"github.com/trace-debug/kubectl-trace-debug/bpf/mapmerge"
)

// runGroup traces several pods (a workload's or a selector's) in one
// session: the same program goes into each as its own tracer, all at once,
// under one session name. Each tracer runs as a single-pod trace does, with
// its own Ctrl-C state machine fed every signal the user sends, so the
// first Ctrl-C (or --duration, --deadline, the client going away) stops
// them all. Output lines carry their pod; each pod's outcome is reported,
// and the exit code is 0 only when every pod was traced and exited 0.
func (o *TraceOptions) runGroup(ctx context.Context, targets podTargets) error {
	switch {
	case o.DryRun:
		return codef(ExitUsage, "--dry-run takes one pod for now; %s has %d running pods: try one with pod/NAME", targets.What, len(targets.Running))
	}
	pods := targets.Running
	checks, err := o.groupPreflight(ctx, pods)
	if err != nil {
		return err
	}
	ptrs := make([]*corev1.Pod, len(pods))
	for i := range pods {
		ptrs[i] = &pods[i]
	}
	name := SessionName(ptrs...)
	if o.Detach {
		fmt.Fprintln(o.Out, name) // the session's name, at once, as for one pod
	}
	var mu sync.Mutex // one line at a time, whichever pod it comes from
	var ready readyCount
	ready.want = len(pods)
	signals, stopFanOut := fanOut(o.Interrupts, len(pods))
	defer stopFanOut()
	results := make([]error, len(pods))
	outs := make([]*podOutput, len(pods))
	writers := make([]*podLines, 0, len(pods))
	var wg sync.WaitGroup
	for i := range pods {
		po := *o
		po.PodName, po.Namespace, po.sessionName, po.checked = pods[i].Name, pods[i].Namespace, name, checks
		po.group = true
		if !o.PerPod {
			po.Program = mapmerge.AvgAsStats(o.Program) // an average merges by its count and total
		}
		live := &podLines{w: o.Out, pod: pods[i].Name, json: o.OutputFormat == "json", mu: &mu}
		errOut := &podLines{w: o.ErrOut, pod: pods[i].Name, mu: &mu}
		outs[i] = &podOutput{live: live}
		writers = append(writers, errOut)
		po.Out, po.ErrOut, po.Interrupts = outs[i], errOut, signals[i]
		po.onReady = ready.hook(func() {
			if o.ReadyFile != "" {
				if err := writeReadyFile(o.ReadyFile, name); err != nil {
					o.progress("%v", err)
				}
			}
		})
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			results[i] = po.runOne(ctx)
		}(i)
	}
	wg.Wait()
	for _, w := range writers {
		w.Flush()
	}
	if err := o.finalMaps().show(outs); err != nil {
		return err
	}
	err = o.groupResult(name, targets, results)
	if o.Detach && err == nil {
		o.progress("session %s runs detached in %d pods until its deadline (%v)%s; follow it with `kubectl trace-debug attach %s %s`, end it with `kubectl trace-debug stop %s %s`",
			name, len(pods), o.Deadline, durationNote(o), o.targetArg(), name, o.targetArg(), name)
	}
	return err
}

// targetArg is how the subcommands name this trace's target.
func (o *TraceOptions) targetArg() string {
	if o.Selector != "" {
		return "-n " + o.Namespace + " -l " + o.Selector
	}
	return "-n " + o.Namespace + " " + o.Workload
}

// groupChecks is what a group's preflight found, for each pod's start.
type groupChecks struct{ user string }

// groupPreflight makes preflight's checks once per namespace of the pods,
// before any tracer is injected, and asks once who the user is: the pods
// then start at once, not one API round trip after another.
func (o *TraceOptions) groupPreflight(ctx context.Context, pods []corev1.Pod) (*groupChecks, error) {
	waitCtx, release := interruptible(ctx, o.Interrupts)
	defer release()
	done := map[string]bool{}
	for _, p := range pods {
		if done[p.Namespace] {
			continue
		}
		done[p.Namespace] = true
		po := *o
		po.Namespace = p.Namespace
		err := po.preflight(waitCtx)
		if interrupted(waitCtx) {
			return nil, interruptedError("checking permissions", "")
		}
		if err != nil {
			return nil, err
		}
	}
	return &groupChecks{user: o.whoAmI(waitCtx)}, nil
}

// groupResult reports each pod's outcome and turns them into the command's
// result: nil when every pod was traced and exited 0; the pods' common exit
// code when all failed alike; else ExitPartial.
func (o *TraceOptions) groupResult(name string, targets podTargets, results []error) error {
	failed, codes := 0, map[int]bool{}
	for i, err := range results {
		pod := targets.Running[i].Name
		if err != nil {
			failed++
			codes[ExitCode(err)] = true
			o.progress("[%s] session %s: %v", pod, name, err)
			continue
		}
		if o.Detach {
			o.progress("[%s] session %s: probes attached, running detached", pod, name)
			continue
		}
		o.progress("[%s] session %s: traced, exit code 0", pod, name)
	}
	for _, s := range targets.Skipped {
		o.progress("[%s] not traced: %s", s.Pod, s.Reason)
	}
	total := len(targets.Running) + len(targets.Skipped)
	switch {
	case failed == 0 && len(targets.Skipped) == 0:
		return nil
	case failed == len(results) && len(codes) == 1:
		for code := range codes {
			return codef(code, "session %s failed in every pod of %s (each pod's reason is above)", name, targets.What)
		}
	}
	return codef(ExitPartial, "session %s traced %d of the %d pods of %s (each pod's outcome is above)", name, len(results)-failed, total, targets.What)
}

// readyCount calls a hook once every pod's probes are attached.
type readyCount struct {
	mu   sync.Mutex
	n    int
	want int
}

// hook returns a pod's ready hook: the last pod to be ready runs done.
func (r *readyCount) hook(done func()) func() {
	return func() {
		r.mu.Lock()
		r.n++
		last := r.n == r.want
		r.mu.Unlock()
		if last {
			done()
		}
	}
}

// fanOut delivers every signal from in to each of n channels (each pod's
// tracer reads its own); stop ends the delivery.
func fanOut(in <-chan os.Signal, n int) ([]<-chan os.Signal, func()) {
	outs := make([]chan os.Signal, n)
	ro := make([]<-chan os.Signal, n)
	for i := range outs {
		outs[i] = make(chan os.Signal, 4)
		ro[i] = outs[i]
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case sig := <-in:
				for _, c := range outs {
					select {
					case c <- sig:
					default: // that tracer has had enough signals to leave
					}
				}
			}
		}
	}()
	var once sync.Once
	return ro, func() { once.Do(func() { close(done) }) }
}

// podLines writes whole lines to w, each marked with its pod: "[pod] " in
// front of text, a "pod" field first in each JSON object. Lines from
// several pods never mix (mu is shared).
type podLines struct {
	w    io.Writer
	pod  string
	json bool
	mu   *sync.Mutex
	buf  lineBuffer
}

// Write passes the complete lines of p on, marked.
func (l *podLines) Write(p []byte) (int, error) {
	var out bytes.Buffer
	_ = l.buf.lines(p, func(line []byte) error {
		out.WriteString(l.mark(string(line)))
		out.WriteByte('\n')
		return nil
	})
	if out.Len() == 0 {
		return len(p), nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.w.Write(out.Bytes()); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush writes what is left of an unfinished line.
func (l *podLines) Flush() {
	if len(l.buf.partial) > 0 {
		_, _ = l.Write([]byte("\n"))
	}
}

// mark marks one line with the pod.
func (l *podLines) mark(line string) string {
	if l.json && strings.HasPrefix(line, "{") {
		rest := strings.TrimPrefix(line, "{")
		if strings.TrimSpace(rest) == "}" {
			return fmt.Sprintf(`{"pod": %q}`, l.pod)
		}
		return fmt.Sprintf(`{"pod": %q, %s`, l.pod, rest)
	}
	if line == "" {
		return ""
	}
	return "[" + l.pod + "] " + line
}
