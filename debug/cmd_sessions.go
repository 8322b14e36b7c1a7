package debug

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// SessionRef is what every subcommand shares (list, logs, stop, attach,
// doctor): the streams, kubectl's connection flags, the user's signals and,
// once completed, TARGET and SESSION. Each subcommand's options embed it and
// add their own flags.
type SessionRef struct {
	genericiooptions.IOStreams
	// ConfigFlags are kubectl's standard connection flags.
	ConfigFlags *genericclioptions.ConfigFlags
	// Interrupts delivers the user's Ctrl-C (SIGINT) and SIGTERM.
	Interrupts <-chan os.Signal

	// Selector (-l) names the pods of a session over several pods.
	Selector string

	// Filled by Complete: the pod, or the workload (TYPE/NAME) whose pods
	// hold the session, and the session.
	PodName  string
	Workload string
	Session  string
	kube
}

// addSelector adds -l to a subcommand that takes the pods of a session
// over several pods.
func (o *SessionRef) addSelector(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&o.Selector, "selector", "l", "", "the pods this label selector matches, instead of TARGET (a session over several pods)")
}

// Complete resolves the clients, TARGET (optional unless wantSession; -l
// takes its place) and, when wantSession, SESSION.
func (o *SessionRef) Complete(args []string, wantSession bool) error {
	if o.Selector != "" {
		if want := map[bool]int{true: 1}[wantSession]; len(args) != want {
			return codef(ExitUsage, "with -l SELECTOR, give %s; see --help", map[bool]string{true: "SESSION only", false: "no TARGET"}[wantSession])
		}
		if wantSession {
			o.Session = args[0]
		}
	} else {
		want := 1
		if wantSession {
			want = 2
		}
		if len(args) > want || (wantSession && len(args) != want) {
			return codef(ExitUsage, "want %d arguments (TARGET%s), got %d; see --help", want, map[bool]string{true: " SESSION"}[wantSession], len(args))
		}
		switch {
		case len(args) > 0 && !isPodTarget(args[0]):
			o.Workload = args[0]
		case len(args) > 0:
			name, err := ParseTarget(args[0])
			if err != nil {
				return err
			}
			o.PodName = name
		}
		if wantSession {
			o.Session = args[1]
		}
	}
	var err error
	o.kube, err = newKube(o.ConfigFlags)
	return err
}

// tracer finds the named session in its pod and returns it, in the state
// the pod reports.
func (o *SessionRef) tracer(ctx context.Context) (*tracer, error) {
	pod, err := o.Client.CoreV1().Pods(o.Namespace).Get(ctx, o.PodName, metav1.GetOptions{})
	if err != nil {
		return nil, apiError(err, fmt.Sprintf("get pod %s/%s", o.Namespace, o.PodName), "")
	}
	for _, s := range Sessions(pod) {
		if s.Name == o.Session {
			st, _ := containerState(pod, s.Name)
			return &tracer{kube: o.kube, pod: o.PodName, name: s.Name, out: o.Out, errOut: o.ErrOut, interrupts: o.Interrupts, state: st}, nil
		}
	}
	return nil, codef(ExitTargetNotFound, "find session: pod %s has no session %q; list them with `kubectl trace-debug list pod/%s`", podRef(pod), o.Session, pod.Name)
}

// group reports whether TARGET names several pods (a workload or -l).
func (o *SessionRef) group() bool { return o.Workload != "" || o.Selector != "" }

// pods resolves a workload or selector to its running pods.
func (o *SessionRef) pods(ctx context.Context) ([]corev1.Pod, error) {
	targets, err := resolveWorkload(ctx, o.ConfigFlags, o.kube, o.Workload, o.Selector, false)
	if err == nil {
		err = targets.check(DefaultMaxPods)
	}
	return targets.Running, err
}

// tracers finds the session in every pod of the target: one tracer for a
// pod; for a workload or selector, one per pod that holds it, each marking
// its lines with its pod (mu keeps lines whole) and keeping its final maps
// for group.show to merge.
func (o *SessionRef) tracers(ctx context.Context) (ts []*tracer, group *groupOutput, err error) {
	if !o.group() {
		t, err := o.tracer(ctx)
		if err != nil {
			return nil, nil, err
		}
		return []*tracer{t}, nil, nil
	}
	pods, err := o.pods(ctx)
	if err != nil {
		return nil, nil, err
	}
	var mu sync.Mutex
	group = &groupOutput{}
	for i := range pods {
		p := &pods[i]
		for _, s := range Sessions(p) {
			if s.Name != o.Session {
				continue
			}
			st, _ := containerState(p, s.Name)
			k := o.kube
			k.Namespace = p.Namespace
			out := &podOutput{live: &podLines{w: o.Out, pod: p.Name, json: s.JSON, mu: &mu}}
			if len(group.outs) == 0 { // the session's program and format, the same in every pod
				group.maps = finalMaps{program: s.Program, native: s.Syscalls || len(s.Funcs) > 0, json: s.JSON, out: o.Out,
					progress: func(format string, a ...any) { progressf(o.ErrOut, format, a...) }}
			}
			group.outs = append(group.outs, out)
			ts = append(ts, &tracer{kube: k, pod: p.Name, name: s.Name, state: st, interrupts: o.Interrupts,
				out: out, errOut: &podLines{w: o.ErrOut, pod: p.Name, mu: &mu}})
		}
	}
	if len(ts) == 0 {
		return nil, nil, codef(ExitTargetNotFound, "find session: none of the %d running pods of %s holds session %q; list them with `kubectl trace-debug list`", len(pods), o.targetName(), o.Session)
	}
	return ts, group, nil
}

// groupOutput is the output of a session over several pods as a subcommand
// reads it: each pod's stdout, and how to show their final maps.
type groupOutput struct {
	outs []*podOutput
	maps finalMaps
}

// show merges the pods' final maps (nothing for a single pod).
func (g *groupOutput) show() error {
	if g == nil {
		return nil
	}
	return g.maps.show(g.outs)
}

// targetName names the target for messages.
func (o *SessionRef) targetName() string {
	switch {
	case o.Selector != "":
		return "-l " + o.Selector
	case o.Workload != "":
		return o.Workload
	}
	return "pod/" + o.PodName
}

// eachTracer runs do for every tracer at once, flushes their marked lines
// and returns the first error by pod order. With signals (a subcommand
// that reads the user's signals itself), each tracer gets its own copy of
// every signal.
func eachTracer(ts []*tracer, signals bool, do func(t *tracer) error) error {
	if signals && len(ts) > 1 {
		copies, stop := fanOut(ts[0].interrupts, len(ts))
		defer stop()
		for i, t := range ts {
			t.interrupts = copies[i]
		}
	}
	errs := make([]error, len(ts))
	var wg sync.WaitGroup
	for i, t := range ts {
		wg.Add(1)
		go func(i int, t *tracer) {
			defer wg.Done()
			errs[i] = do(t)
		}(i, t)
	}
	wg.Wait()
	for _, t := range ts {
		for _, w := range []io.Writer{t.out, t.errOut} {
			if l, ok := w.(*podLines); ok {
				l.Flush()
			}
		}
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// runE runs a subcommand with its context. Unless the subcommand reads the
// user's signals itself (attach), Ctrl-C or SIGTERM cancels whatever it waits
// for, and it exits 130 saying so.
func (o *SessionRef) runE(ownSignals bool, run func(ctx context.Context, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if ownSignals {
			return run(cmd.Context(), args)
		}
		ctx, release := interruptible(cmd.Context(), o.Interrupts)
		defer release()
		err := run(ctx, args)
		if interrupted(ctx) {
			return interruptedError("running `"+cmd.Name()+"`", "")
		}
		return err
	}
}
