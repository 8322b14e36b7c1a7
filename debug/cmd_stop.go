package debug

import (
	"context"
	"errors"

	"github.com/spf13/cobra"

	"github.com/trace-debug/kubectl-trace-debug/debug/kube"
	"github.com/trace-debug/kubectl-trace-debug/debug/pods"
	"github.com/trace-debug/kubectl-trace-debug/debug/session"
)

// StopOptions are the inputs of `kubectl trace-debug stop`.
type StopOptions struct{ SessionRef }

// newCmdStop returns `kubectl trace-debug stop`.
func newCmdStop(ref SessionRef) *cobra.Command {
	o := &StopOptions{SessionRef: ref}
	cmd := &cobra.Command{
		Use:   "stop TARGET SESSION",
		Short: "End a trace session the Ctrl-C way: its maps are printed into its output",
		Example: `  kubectl trace-debug stop pod/web trace-debug-x7k2p
  kubectl trace-debug stop deploy/web trace-debug-x7k2p    # every pod of a session over several pods`,
		RunE: o.runE(false, func(ctx context.Context, args []string) error {
			if err := o.Complete(args, true); err != nil {
				return err
			}
			return o.Run(ctx)
		}),
	}
	o.addSelector(cmd)
	return cmd
}

// Run stops the session (in every pod it spans) and waits until its
// output is complete.
func (o *StopOptions) Run(ctx context.Context) error {
	return o.each(ctx, "stopped", false, func(ctx context.Context, t *session.Tracer) error {
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
}
