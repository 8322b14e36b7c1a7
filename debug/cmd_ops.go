package debug

import (
	"context"
	"errors"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
)

// LogsOptions are the inputs of `kubectl trace-debug logs`.
type LogsOptions struct {
	SessionRef
	// Follow follows the output until the session ends.
	Follow bool
}

func newCmdLogs(ref SessionRef) *cobra.Command {
	o := &LogsOptions{SessionRef: ref}
	cmd := &cobra.Command{
		Use:     "logs TARGET SESSION [-f]",
		Short:   "Print the output of a running or finished trace session",
		Example: "  kubectl trace-debug logs pod/web trace-debug-x7k2p -f",
		RunE: o.runE(false, func(ctx context.Context, args []string) error {
			if err := o.Complete(args, true); err != nil {
				return err
			}
			return o.Run(ctx)
		}),
	}
	cmd.Flags().BoolVarP(&o.Follow, "follow", "f", false, "follow the output until the session ends")
	o.addSelector(cmd)
	return cmd
}

// Run prints the session's output (of every pod it spans, each line
// marked with its pod); a followed one ends with the session's result line
// (the output is then complete).
func (o *LogsOptions) Run(ctx context.Context) error {
	ts, group, err := o.tracers(ctx)
	if err != nil {
		return err
	}
	if err := eachTracer(ts, false, func(t *tracer) error {
		return t.logs(ctx, &corev1.PodLogOptions{Follow: o.Follow}, printableWriter{t.out})
	}); err != nil {
		return err
	}
	return group.show()
}

// StopOptions are the inputs of `kubectl trace-debug stop`.
type StopOptions struct{ SessionRef }

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
	ts, _, err := o.tracers(ctx)
	if err != nil {
		return err
	}
	return eachTracer(ts, false, func(t *tracer) error {
		if t.state.Running == nil {
			progressf(t.errOut, "session %s is not running (%s); nothing to stop", t.name, stateName(t.state))
			return nil
		}
		e, err := t.stop(ctx)
		if errors.Is(err, errEnded) {
			progressf(t.errOut, "session %s is not running (it ended with exit code %d); nothing to stop", t.name, e.exitCode())
			return nil
		}
		if err != nil {
			return err
		}
		progressf(t.errOut, "session %s stopped (exit code %d); its output: kubectl trace-debug logs pod/%s %s", t.name, e.exitCode(), t.pod, t.name)
		return nil
	})
}

// stateName names a container state as `list` does.
func stateName(st corev1.ContainerState) string {
	switch {
	case st.Running != nil:
		return "Running"
	case st.Terminated != nil:
		return st.Terminated.Reason
	case st.Waiting != nil:
		return st.Waiting.Reason
	}
	return "Pending"
}

// AttachOptions are the inputs of `kubectl trace-debug attach`.
type AttachOptions struct {
	SessionRef
	// NoStop makes Ctrl-C leave the session running instead of stopping it.
	NoStop bool
}

func newCmdAttach(ref SessionRef) *cobra.Command {
	o := &AttachOptions{SessionRef: ref}
	cmd := &cobra.Command{
		Use:   "attach TARGET SESSION",
		Short: "Replay a session's output so far and follow it; Ctrl-C stops the session",
		Example: `  kubectl trace-debug attach pod/web trace-debug-x7k2p
  kubectl trace-debug attach pod/web trace-debug-x7k2p --no-stop   # Ctrl-C leaves, the session goes on`,
		RunE: o.runE(true, func(ctx context.Context, args []string) error {
			if err := o.Complete(args, true); err != nil {
				return err
			}
			return o.Run(ctx)
		}),
	}
	cmd.Flags().BoolVar(&o.NoStop, "no-stop", false, "Ctrl-C leaves and the session goes on, instead of stopping it")
	o.addSelector(cmd)
	return cmd
}

// Run replays and follows the session's output (of every pod it spans)
// to its end; the first interrupt stops the session (unless NoStop) and
// the output goes on to its maps, the second leaves at once.
func (o *AttachOptions) Run(ctx context.Context) error {
	ts, group, err := o.tracers(ctx)
	if err != nil {
		return err
	}
	err = eachTracer(ts, true, func(t *tracer) error {
		err := t.interact(ctx, o.NoStop, func() { go t.sendStop(ctx) }, func(ctx context.Context) error {
			return t.logs(ctx, &corev1.PodLogOptions{Follow: true}, printableWriter{t.out})
		})
		if errors.Is(err, errLeft) {
			return t.leftError(goesOnNote(t.pod, t.name))
		}
		if err != nil {
			return err
		}
		return t.finish(ctx)
	})
	if showErr := group.show(); err == nil {
		err = showErr
	}
	return err
}
