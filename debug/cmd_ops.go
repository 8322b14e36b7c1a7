package debug

import (
	"context"
	"io"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/remotecommand"

	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
)

func newCmdLogs(o *SessionOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "logs TARGET SESSION [-f]",
		Short:   "Print the output of a running or finished trace session",
		Example: "  kubectl trace-debug logs pod/web trace-debug-x7k2p -f",
		RunE: runE(func(ctx context.Context, args []string) error {
			if err := o.Complete(args, true); err != nil {
				return err
			}
			if _, err := o.session(ctx); err != nil {
				return err
			}
			// Following ends at the runner's result line: the output is
			// complete, though the container may still be detaching probes.
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			return o.copyLogs(ctx, o.Follow, func(int) { cancel() })
		}),
	}
	cmd.Flags().BoolVarP(&o.Follow, "follow", "f", false, "follow the output until the session ends")
	return cmd
}

func newCmdStop(o *SessionOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "stop TARGET SESSION",
		Short:   "End a trace session the Ctrl-C way: its maps are printed into its output",
		Example: "  kubectl trace-debug stop pod/web trace-debug-x7k2p",
		RunE: runE(func(ctx context.Context, args []string) error {
			if err := o.Complete(args, true); err != nil {
				return err
			}
			s, err := o.session(ctx)
			if err != nil {
				return err
			}
			if s.State != "Running" {
				progressf(o.ErrOut, "session %s is not running (%s); nothing to stop", s.Name, s.State)
				return nil
			}
			st, err := o.stop(ctx)
			if err != nil {
				return err
			}
			progressf(o.ErrOut, "session %s stopped (exit code %d); its output: kubectl trace-debug logs pod/%s %s", s.Name, st.ExitCode, s.Pod, s.Name)
			return nil
		}),
	}
}

func newCmdAttach(o *SessionOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "attach TARGET SESSION",
		Short: "Replay a session's output so far and follow it; Ctrl-C stops the session",
		Example: `  kubectl trace-debug attach pod/web trace-debug-x7k2p
  kubectl trace-debug attach pod/web trace-debug-x7k2p --no-stop   # Ctrl-C leaves, the session goes on`,
		RunE: runE(func(ctx context.Context, args []string) error {
			if err := o.Complete(args, true); err != nil {
				return err
			}
			if _, err := o.session(ctx); err != nil {
				return err
			}
			return o.attach(ctx)
		}),
	}
	cmd.Flags().BoolVar(&o.NoStop, "no-stop", false, "Ctrl-C leaves and the session goes on, instead of stopping it")
	return cmd
}

// copyLogs writes the session's output to stdout, following it if asked;
// onResult, when set, gets the exit code of the runner's result line.
func (o *SessionOptions) copyLogs(ctx context.Context, follow bool, onResult func(int)) error {
	rc, err := o.Client.CoreV1().Pods(o.Namespace).GetLogs(o.PodName, &corev1.PodLogOptions{Container: o.Session, Follow: follow}).Stream(ctx)
	if err != nil {
		return apiError(err, "read session "+o.Session+" output", "")
	}
	defer rc.Close()
	_, err = io.Copy(&readyWatcher{w: o.Out, onResult: onResult}, rc)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// stop sends the runner the stop line through the container's stdin (no
// pods/exec needed) and waits until the session has ended.
func (o *SessionOptions) stop(ctx context.Context) (*corev1.ContainerStateTerminated, error) {
	exec, err := o.attacher(o.PodName, &corev1.PodAttachOptions{Container: o.Session, Stdin: true})
	if err != nil {
		return nil, err
	}
	attachCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	in, w := io.Pipe()
	defer w.Close()
	errc := make(chan error, 1)
	go func() { errc <- exec.StreamWithContext(attachCtx, remotecommand.StreamOptions{Stdin: in}) }()
	if _, err := io.WriteString(w, protocol.Stop+"\n"); err != nil {
		return nil, codef(ExitInternal, "send stop to session %s: %w", o.Session, err)
	}
	st, err := o.watchTracer(ctx, o.PodName, o.Session, untilTerminated())
	w.Close() // end the attach the polite way before giving up on it
	select {
	case <-errc:
	case <-time.After(2 * time.Second):
		cancel()
		<-errc
	}
	if err != nil {
		return nil, err
	}
	return st.Terminated, nil
}

// attach replays and follows the output; the first interrupt stops the
// session (unless NoStop) and the output goes on to its summary, the second
// leaves at once.
func (o *SessionOptions) attach(ctx context.Context) error {
	followCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	result := make(chan int, 1)
	// The result line ends the output; the container may still be detaching.
	go func() { done <- o.copyLogs(followCtx, true, func(code int) { result <- code; cancel() }) }()
	interrupts := 0
	for {
		select {
		case err := <-done:
			if err != nil {
				return err
			}
			select {
			case code := <-result:
				return exitResult(o.Session, code, "")
			default:
			}
			st, err := o.watchTracer(ctx, o.PodName, o.Session, untilTerminated())
			if err != nil {
				return err
			}
			return tracerResult(o.Session, st.Terminated)
		case <-o.Interrupts:
			interrupts++
			if o.NoStop || interrupts > 1 {
				cancel()
				<-done
				return codef(ExitInterrupted, "left session %s; it goes on (stop it with `kubectl trace-debug stop pod/%s %s`)", o.Session, o.PodName, o.Session)
			}
			progressf(o.ErrOut, "stopping session %s; its maps follow (Ctrl-C again to leave at once)", o.Session)
			go func() {
				if _, err := o.stop(ctx); err != nil {
					progressf(o.ErrOut, "%v", err)
				}
			}()
		}
	}
}
