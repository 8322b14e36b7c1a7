package debug

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"
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

	// Filled by Complete.
	PodName string
	Session string
	kube
}

// Complete resolves the clients, TARGET (optional unless wantSession) and,
// when wantSession, SESSION.
func (o *SessionRef) Complete(args []string, wantSession bool) error {
	want := 1
	if wantSession {
		want = 2
	}
	if len(args) > want || (wantSession && len(args) != want) {
		return codef(ExitUsage, "want %d arguments (TARGET%s), got %d; see --help", want, map[bool]string{true: " SESSION"}[wantSession], len(args))
	}
	if len(args) > 0 {
		name, err := ParseTarget(args[0])
		if err != nil {
			return err
		}
		o.PodName = name
	}
	if wantSession {
		o.Session = args[1]
	}
	var err error
	o.kube, err = newKube(o.ConfigFlags)
	return err
}

// tracer finds the named session in its pod and returns it, in the state
// the pod reports, with what `list` shows of it.
func (o *SessionRef) tracer(ctx context.Context) (*tracer, SessionInfo, error) {
	pod, err := o.Client.CoreV1().Pods(o.Namespace).Get(ctx, o.PodName, metav1.GetOptions{})
	if err != nil {
		return nil, SessionInfo{}, apiError(err, fmt.Sprintf("get pod %s/%s", o.Namespace, o.PodName), "")
	}
	for _, s := range Sessions(pod) {
		if s.Name == o.Session {
			st, _ := containerState(pod, s.Name)
			return &tracer{kube: o.kube, pod: o.PodName, name: s.Name, out: o.Out, errOut: o.ErrOut, interrupts: o.Interrupts, state: st}, s, nil
		}
	}
	return nil, SessionInfo{}, codef(ExitTargetNotFound, "find session: pod %s has no session %q; list them with `kubectl trace-debug list pod/%s`", podRef(pod), o.Session, pod.Name)
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
