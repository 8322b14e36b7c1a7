package debug

import (
	"context"
	"errors"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/spf13/cobra"
	"github.com/trace-debug/kubectl-trace-debug/debug/group"

	"github.com/trace-debug/kubectl-trace-debug/debug/pods"
	"github.com/trace-debug/kubectl-trace-debug/debug/progress"
	"github.com/trace-debug/kubectl-trace-debug/debug/session"
)

// StopOptions are the inputs of `kubectl trace-debug stop`.
type StopOptions struct {
	SubcommandOptions
	// JUnit is where the session's JUnit report goes ("" for none).
	JUnit string
}

// newCmdStop returns `kubectl trace-debug stop`.
func newCmdStop(ref SubcommandOptions) *cobra.Command {
	o := &StopOptions{SubcommandOptions: ref}
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
// output is complete; a session with assertions (or --junit) has its
// final maps read from its log and checked.
func (o *StopOptions) Run(ctx context.Context) error {
	start := time.Now()
	checked := func(info pods.SessionInfo) bool { return len(info.Asserts) > 0 || o.JUnit != "" }
	readMaps := func(info pods.SessionInfo) group.Ending {
		if !checked(info) {
			return nil
		}
		m := group.SessionMaps(info)
		m.Quiet = true // the output is the log's to show
		return m
	}
	outcome, err := o.each(ctx, "stopped", false, readMaps, func(ctx context.Context, m *group.Member) error {
		if err := stop(ctx, m.Tracer); err != nil || !checked(m.Tracer.Info) {
			return err
		}
		return m.Tracer.Logs(ctx, &corev1.PodLogOptions{}, m.Muted())
	})
	if err != nil {
		return err
	}
	return o.finish(outcome, o.JUnit, start)
}

// stop stops t's session, unless it is not running, saying which.
func stop(ctx context.Context, t *session.Tracer) error {
	if t.State.Running == nil {
		progress.Printf(t.ErrOut, "session %s is not running (%s); nothing to stop", t.Name, pods.StateName(t.State))
		return nil
	}
	e, err := t.Stop(ctx)
	if errors.Is(err, session.ErrEnded) {
		progress.Printf(t.ErrOut, "session %s is not running (it ended with exit code %d); nothing to stop", t.Name, e.ExitCode())
		return nil
	}
	if err != nil {
		return err
	}
	progress.Printf(t.ErrOut, "session %s stopped (exit code %d); its output: kubectl trace-debug logs pod/%s %s", t.Name, e.ExitCode(), t.Pod, t.Name)
	return nil
}
