package debug

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/spf13/cobra"
	"github.com/trace-debug/kubectl-trace-debug/bpf/mapmerge"
	"github.com/trace-debug/kubectl-trace-debug/debug/group"

	"github.com/trace-debug/kubectl-trace-debug/debug/kube"
	"github.com/trace-debug/kubectl-trace-debug/debug/pods"
	"github.com/trace-debug/kubectl-trace-debug/debug/session"
)

// StopOptions are the inputs of `kubectl trace-debug stop`.
type StopOptions struct {
	SessionRef
	// JUnit is where the session's JUnit report goes ("" for none).
	JUnit string
}

// newCmdStop returns `kubectl trace-debug stop`.
func newCmdStop(ref SessionRef) *cobra.Command {
	o := &StopOptions{SessionRef: ref}
	cmd := &cobra.Command{
		Use:   "stop TARGET SESSION",
		Short: "End a trace session the Ctrl-C way: its maps are printed into its output",
		Example: `  kubectl trace-debug stop pod/web trace-debug-x7k2p
  kubectl trace-debug stop deploy/web trace-debug-x7k2p    # every pod of a session over several pods
  kubectl trace-debug stop pod/web trace-debug-x7k2p --junit report.xml   # check the session's --assert expressions, and report`,
		RunE: o.runE(false, func(ctx context.Context, args []string) error {
			if err := o.Complete(args, true); err != nil {
				return err
			}
			return o.Run(ctx)
		}),
	}
	o.addSelector(cmd)
	cmd.Flags().StringVar(&o.JUnit, "junit", "", "write a JUnit XML report of the session to this file: the trace and each of its --assert expressions")
	return cmd
}

// Run stops the session (in every pod it spans) and waits until its
// output is complete.
func (o *StopOptions) Run(ctx context.Context) error {
	start := time.Now()
	var mu sync.Mutex
	var tracers []*session.Tracer
	_, _, err := o.each(ctx, "stopped", false, func(ctx context.Context, t *session.Tracer) error {
		mu.Lock()
		tracers = append(tracers, t)
		mu.Unlock()
		if t.State.Running == nil {
			kube.Progressf(t.ErrOut, "session %s is not running (%s); nothing to stop", t.Name, pods.StateName(t.State))
			return nil
		}
		e, err := t.Stop(ctx)
		if errors.Is(err, session.ErrEnded) {
			kube.Progressf(t.ErrOut, "session %s is not running (it ended with exit code %d); nothing to stop", t.Name, e.ExitCode())
			return nil
		}
		if err != nil {
			return err
		}
		kube.Progressf(t.ErrOut, "session %s stopped (exit code %d); its output: kubectl trace-debug logs pod/%s %s", t.Name, e.ExitCode(), t.Pod, t.Name)
		return nil
	})
	if len(tracers) == 0 {
		return err
	}
	maps := group.SessionMaps(tracers[0].Info)
	checks := o.checks(tracers[0].Info, o.JUnit)
	if !checks.active() {
		return err
	}
	d, unread, rerr := finalMaps(ctx, maps, tracers)
	if err == nil {
		err = rerr
	}
	return o.finishChecks(checks, tracers, d, unread, err, start)
}

// finalMaps reads the final maps each tracer printed into its log and
// merges them (nil when none printed them); unread are the pods whose log
// has none.
func finalMaps(ctx context.Context, maps group.Maps, tracers []*session.Tracer) (d *mapmerge.Dump, unread []string, err error) {
	var kept []string
	for _, t := range tracers {
		f := &group.Final{Live: io.Discard}
		if err := t.Logs(ctx, &corev1.PodLogOptions{}, f); err != nil {
			return nil, nil, err
		}
		f.Close()
		if k, found := f.Kept(); found {
			kept = append(kept, k)
		} else {
			unread = append(unread, t.Pod)
		}
	}
	return maps.Read(kept), unread, nil
}
