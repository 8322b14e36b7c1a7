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

// SessionOptions are the inputs of the session commands: list, logs, stop
// and attach.
type SessionOptions struct {
	genericiooptions.IOStreams
	ConfigFlags *genericclioptions.ConfigFlags
	// Interrupts delivers the user's Ctrl-C (SIGINT) and SIGTERM.
	Interrupts <-chan os.Signal

	AllNamespaces bool
	Output        string
	Follow        bool
	NoStop        bool

	// Filled by Complete.
	PodName string
	Session string
	kube
}

// Complete resolves the clients, TARGET and, when wantSession, SESSION.
func (o *SessionOptions) Complete(args []string, wantSession bool) error {
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

// session finds the named session in its pod.
func (o *SessionOptions) session(ctx context.Context) (SessionInfo, error) {
	pod, err := o.Client.CoreV1().Pods(o.Namespace).Get(ctx, o.PodName, metav1.GetOptions{})
	if err != nil {
		return SessionInfo{}, apiError(err, fmt.Sprintf("get pod %s/%s", o.Namespace, o.PodName), "")
	}
	for _, s := range Sessions(pod) {
		if s.Name == o.Session {
			return s, nil
		}
	}
	return SessionInfo{}, codef(ExitTargetNotFound, "find session: pod %s has no session %q; list them with `kubectl trace-debug list pod/%s`", podRef(pod), o.Session, pod.Name)
}

// runE runs a subcommand with its context. Unless the subcommand reads the
// user's signals itself (attach), Ctrl-C or SIGTERM cancels whatever it waits
// for, and it exits 130 saying so: a subcommand never changes a session, so
// nothing is left behind.
func (o *SessionOptions) runE(ownSignals bool, run func(ctx context.Context, args []string) error) func(*cobra.Command, []string) error {
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
