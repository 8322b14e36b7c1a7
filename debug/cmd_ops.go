package debug

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"

	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
)

func newCmdLogs(o *SessionOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "logs TARGET SESSION [-f]",
		Short:   "Print the output of a running or finished trace session",
		Example: "  kubectl trace-debug logs pod/web trace-debug-x7k2p -f",
		RunE: o.runE(false, func(ctx context.Context, args []string) error {
			if err := o.Complete(args, true); err != nil {
				return err
			}
			if _, err := o.session(ctx); err != nil {
				return err
			}
			_, _, err := o.copyLogs(ctx, o.Follow)
			return err
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
		RunE: o.runE(false, func(ctx context.Context, args []string) error {
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
		RunE: o.runE(true, func(ctx context.Context, args []string) error {
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

// logSettle is how long a followed log must be quiet after the runner's
// result line before it is taken as complete: the runtime copies a
// container's stdout and stderr into its log separately, so the last of the
// summary can land just after the result line.
const logSettle = 300 * time.Millisecond

// copyLogs writes the session's output to stdout, following it if asked. A
// followed log ends at the runner's result line (once settled): the output
// is complete, though the container may still be detaching probes. It
// returns the result line's exit code, if one came.
func (o *SessionOptions) copyLogs(ctx context.Context, follow bool) (code int, ended bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rc, err := o.Client.CoreV1().Pods(o.Namespace).GetLogs(o.PodName, &corev1.PodLogOptions{Container: o.Session, Follow: follow}).Stream(ctx)
	if err != nil {
		return 0, false, apiError(err, "read session "+o.Session+" output", "")
	}
	defer rc.Close()
	w := &readyWatcher{w: printableWriter{o.Out}, onResult: func(c int) { code, ended = c, true }}
	chunks := make(chan []byte)
	readErr := make(chan error, 1)
	go func() {
		buf := make([]byte, 32<<10)
		for {
			n, err := rc.Read(buf)
			if n > 0 {
				select {
				case chunks <- append([]byte(nil), buf[:n]...):
				case <-ctx.Done():
					return
				}
			}
			if err != nil {
				readErr <- err
				return
			}
		}
	}()
	var settled <-chan time.Time
	for {
		select {
		case b := <-chunks:
			if _, err := w.Write(b); err != nil {
				return code, ended, err
			}
			if ended {
				settled = time.After(logSettle)
			}
		case <-settled:
			return code, ended, nil
		case err := <-readErr:
			if errors.Is(err, io.EOF) || ctx.Err() != nil {
				return code, ended, nil
			}
			return code, ended, fmt.Errorf("read session %s output: %w", o.Session, err)
		case <-ctx.Done():
			return code, ended, nil
		}
	}
}

// stop sends the runner the stop line through the container's stdin (no
// pods/exec needed) and waits until the session has ended.
func (o *SessionOptions) stop(ctx context.Context) (*corev1.ContainerStateTerminated, error) {
	if err := o.sendControl(ctx, o.PodName, o.Session, []byte(protocol.Stop+"\n")); err != nil {
		return nil, err
	}
	st, err := o.watchTracer(ctx, o.PodName, o.Session, untilTerminated())
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
	type logResult struct {
		code  int
		ended bool
		err   error
	}
	done := make(chan logResult, 1)
	go func() {
		code, ended, err := o.copyLogs(followCtx, true)
		done <- logResult{code, ended, err}
	}()
	interrupts := 0
	for {
		select {
		case r := <-done:
			if r.err != nil {
				return r.err
			}
			if r.ended { // the output is complete; the container may still be detaching
				return exitResult(o.Session, r.code, "")
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
