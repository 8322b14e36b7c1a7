package debug

import (
	"context"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"

	"github.com/trace-debug/kubectl-trace-debug/debug/group"
)

// LogsOptions are the inputs of `kubectl trace-debug logs`.
type LogsOptions struct {
	SubcommandOptions
	// Follow follows the output until the session ends.
	Follow bool
}

// newCmdLogs returns `kubectl trace-debug logs`.
func newCmdLogs(ref SubcommandOptions) *cobra.Command {
	o := &LogsOptions{SubcommandOptions: ref}
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
// marked with its pod), its final maps shown as the trace shows them; a
// followed one ends with the session's result line (the output is then
// complete).
func (o *LogsOptions) Run(ctx context.Context) error {
	outcome, err := o.each(ctx, "read", false, showMaps, func(ctx context.Context, m *group.Member) error {
		return m.Tracer.Logs(ctx, &corev1.PodLogOptions{Follow: o.Follow}, printableWriter{m.Out})
	})
	if err != nil {
		return err
	}
	return outcome.Result()
}
