package debug

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"

	"github.com/trace-debug/kubectl-trace-debug/debug/exit"
	"github.com/trace-debug/kubectl-trace-debug/debug/group"
	"github.com/trace-debug/kubectl-trace-debug/debug/pods"
	"github.com/trace-debug/kubectl-trace-debug/debug/session"
)

// AttachOptions are the inputs of `kubectl trace-debug attach`.
type AttachOptions struct {
	SubcommandOptions
	// NoStop makes Ctrl-C leave the session running instead of stopping it.
	NoStop bool
	// JUnit is where the session's JUnit report goes ("" for none).
	JUnit string
}

// newCmdAttach returns `kubectl trace-debug attach`.
func newCmdAttach(ref SubcommandOptions) *cobra.Command {
	o := &AttachOptions{SubcommandOptions: ref}
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
	cmd.Flags().StringVar(&o.JUnit, "junit", "", "at the session's end, write a JUnit XML report of it to this file: the trace and each of its --assert expressions")
	o.addSelector(cmd)
	return cmd
}

// Run replays and follows the session's output (of every pod it spans)
// to its end; the first interrupt stops the session (unless NoStop) and
// the output goes on to its maps, the second leaves at once. The final
// maps are shown as the trace shows them (merged over several pods), and
// the session's assertions checked on them.
func (o *AttachOptions) Run(ctx context.Context) error {
	start := time.Now()
	outcome, err := o.each(ctx, "followed", true, showMaps, func(ctx context.Context, m *group.Member) error {
		t := m.Tracer
		err := t.Interact(ctx, o.NoStop, func() { go t.SendStop(ctx) }, func(ctx context.Context) error {
			return t.Logs(ctx, &corev1.PodLogOptions{Follow: true}, printableWriter{m.Out})
		})
		if errors.Is(err, session.ErrLeft) {
			return exit.Fixf(exit.Interrupted, exit.Fix{Command: exit.Resume, Pod: t.Pod, Session: t.Name}, "%w", session.ErrLeft)
		}
		if err != nil {
			return err
		}
		return t.Finish(ctx)
	})
	if err != nil {
		return err
	}
	if slices.ContainsFunc(outcome.Errs, func(err error) bool { return errors.Is(err, session.ErrLeft) }) {
		return outcome.Result() // the user left: the session goes on, its end is to come
	}
	return o.finish(outcome, o.JUnit, start)
}

// showMaps is the end of a found session whose output is shown: its
// final maps, as the trace shows them.
func showMaps(info pods.SessionInfo) group.Ending { return group.SessionMaps(info) }
