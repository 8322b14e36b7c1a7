package debug

import (
	"context"
	"os"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/trace-debug/kubectl-trace-debug/debug/group"
	"github.com/trace-debug/kubectl-trace-debug/debug/kube"
	"github.com/trace-debug/kubectl-trace-debug/debug/pods"
	"github.com/trace-debug/kubectl-trace-debug/debug/session"
)

// SubcommandOptions are what every subcommand shares (list, logs, stop, attach,
// doctor): the streams, kubectl's connection flags, the user's signals and,
// once completed, TARGET, SESSION and the clients. Each subcommand's
// options embed it and add their own flags.
type SubcommandOptions struct {
	genericiooptions.IOStreams
	// ConfigFlags are kubectl's standard connection flags.
	ConfigFlags *genericclioptions.ConfigFlags
	// Interrupts delivers the user's Ctrl-C (SIGINT) and SIGTERM.
	Interrupts <-chan os.Signal

	// Selector (-l) names the pods of a session over several pods.
	Selector string

	// Filled by Complete: the pod, or the workload (TYPE/NAME) whose pods
	// hold the session, the session and the clients.
	PodName  string
	Workload string
	Session  string
	Clients  kube.Clients
}

// addSelector adds -l to a subcommand that takes the pods of a session
// over several pods.
func (o *SubcommandOptions) addSelector(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&o.Selector, "selector", "l", "", "the pods this label selector matches, instead of TARGET (a session over several pods)")
}

// Complete resolves the clients, TARGET (optional unless wantSession; -l
// takes its place) and, when wantSession, SESSION.
func (o *SubcommandOptions) Complete(args []string, wantSession bool) error {
	want := map[bool]int{true: 1}[wantSession]
	if o.Selector == "" {
		want++
	}
	switch {
	case o.Selector != "" && len(args) != want:
		return codef(ExitUsage, "with -l SELECTOR, give %s; see --help", map[bool]string{true: "SESSION only", false: "no TARGET"}[wantSession])
	case o.Selector == "" && (len(args) > want || wantSession && len(args) != want):
		return codef(ExitUsage, "want %d arguments (TARGET%s), got %d; see --help", want, map[bool]string{true: " SESSION"}[wantSession], len(args))
	}
	if wantSession {
		o.Session = args[len(args)-1]
	}
	if o.Selector == "" && len(args) > 0 {
		if !pods.IsPodTarget(args[0]) {
			o.Workload = args[0]
		} else {
			name, err := pods.ParseTarget(args[0])
			if err != nil {
				return err
			}
			o.PodName = name
		}
	}
	var err error
	o.Clients, err = newClients(o.ConfigFlags)
	return err
}

// group reports whether TARGET names several pods (a workload or -l).
func (o *SubcommandOptions) group() bool { return o.Workload != "" || o.Selector != "" }

// target names the session's pods as the user gave them.
func (o *SubcommandOptions) target() string {
	switch {
	case o.PodName != "":
		return "pod/" + o.PodName
	case o.Selector != "":
		return "-l " + o.Selector
	}
	return o.Workload
}

// targets resolves a workload or selector to its running pods.
func (o *SubcommandOptions) targets(ctx context.Context) (pods.Targets, error) {
	targets, err := o.Clients.Resolve(ctx, o.Workload, o.Selector, false)
	targets.What = selectorWhat(o.Selector, targets.What)
	if err == nil {
		err = targets.Check()
	}
	return targets, err
}

// streams are the subcommand's streams for one session.
func (o *SubcommandOptions) streams() session.Streams {
	return session.Streams{Out: o.Out, ErrOut: o.ErrOut, Interrupts: o.Interrupts}
}

// each runs do for the session in each pod that holds it: the one pod
// TARGET names (a group of one, whose lines are its own), or every pod of
// a workload or selector that holds it, at once, with lines marked by pod,
// each with its own copy of every signal when signals is set (a
// subcommand that reads the user's signals itself). end, when set, gives
// the session's end from the session as its pods describe it. verb says
// what was done to a pod. Each pod's outcome is reported (see
// group.Outcome): a failing pod makes a command over several exit 13
// (every pod failing alike exits with their code).
func (o *SubcommandOptions) each(ctx context.Context, verb string, signals bool, end func(pods.SessionInfo) group.Ending, do func(ctx context.Context, m *group.Member) error) (group.Outcome, error) {
	g, err := o.found(ctx, verb)
	if err != nil {
		return group.Outcome{}, err
	}
	if end != nil {
		g.End = end(g.Members()[0].Tracer.Info)
	}
	var interrupts <-chan os.Signal
	if signals {
		interrupts = o.Interrupts
	}
	outcome := g.Run(ctx, interrupts, do)
	outcome.Report(o.ErrOut, "", explain)
	return outcome, nil
}

// found finds the session in the pod TARGET names, or in every running
// pod of the workload or selector that holds it.
func (o *SubcommandOptions) found(ctx context.Context, verb string) (*group.Group, error) {
	if !o.group() {
		t, err := session.Find(ctx, o.Clients, o.PodName, o.Session, o.streams())
		if err != nil {
			return nil, err
		}
		return group.Found(t, verb, o.streams()), nil
	}
	targets, err := o.targets(ctx)
	if err != nil {
		return nil, err
	}
	return group.Sessions(o.Clients, targets, o.Session, verb, o.streams())
}

// runE runs a subcommand with its context. Unless the subcommand reads the
// user's signals itself (attach), Ctrl-C or SIGTERM cancels whatever it waits
// for, and it exits 130 saying so.
func (o *SubcommandOptions) runE(ownSignals bool, run func(ctx context.Context, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if ownSignals {
			return run(cmd.Context(), args)
		}
		return session.WhileInterruptible(cmd.Context(), o.Interrupts, "running `"+cmd.Name()+"`", "",
			func(ctx context.Context) error { return run(ctx, args) })
	}
}
