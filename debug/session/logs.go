package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
	"github.com/trace-debug/kubectl-trace-debug/debug/kube"
	"github.com/trace-debug/kubectl-trace-debug/internal/lines"
)

// logSettle is how long a followed log must be quiet after the runner's
// result line before it is taken as complete: the runtime copies a
// container's stdout and stderr into its log separately, so the last of the
// summary can land just after the result line.
const logSettle = 300 * time.Millisecond

// Logs copies the session's log to w, noting the runner's ready and result
// lines, as opts says (follow, tail). A followed log ends at the result line
// once settled (the output is complete, though the container may still be
// detaching probes), at its end, or when ctx ends; none of these is an
// error.
func (t *Tracer) Logs(ctx context.Context, opts *corev1.PodLogOptions, w io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	opts.Container = t.Name
	rc, err := t.Clients.Logs(ctx, t.Pod, opts)
	if err != nil {
		return kube.APIError(err, "read session "+t.Name+" output", "")
	}
	defer rc.Close()
	ww := t.watcher(w)
	ended := false
	ww.onResult = func(code, program int) { t.setResult(code, program); ended = true }
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
			if _, err := ww.Write(b); err != nil {
				return err
			}
			if ended && opts.Follow {
				settled = time.After(logSettle)
			}
		case <-settled:
			return nil
		case err := <-readErr:
			if errors.Is(err, io.EOF) || ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("read session %s output: %w", t.Name, err)
		case <-ctx.Done():
			return nil
		}
	}
}

// lineClass sorts a session's output lines the way its log mixes them: the
// runner's own lines (on its stderr) and the rest (the program's output,
// with the runner's maps line, which it prints on stdout).
func lineClass(line []byte) int {
	if bytes.HasPrefix(line, []byte(protocol.RunnerPrefix)) && !bytes.Equal(line, []byte(protocol.MapsLine)) {
		return 0
	}
	return 1
}

// tally counts the complete lines of a session's output by lineClass, as
// they come through the attached stream's stdout and stderr at once.
type tally struct {
	mu    sync.Mutex
	lines [2]int
}

// counting passes w through, counting its complete lines into the tally.
func (c *tally) counting(w io.Writer) io.Writer {
	return &lines.Splitter{W: w, Line: func(l []byte) {
		c.mu.Lock()
		c.lines[lineClass(l)]++
		c.mu.Unlock()
	}}
}

// seen returns the counts so far.
func (c *tally) seen() [2]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lines
}

// replay takes the session's log after its attached stream broke: it drops
// the lines already shown (skip, by lineClass) and sends each other line to
// stderr when it is the runner's, else to stdout. The skipped lines are
// counted in, so a replay that breaks again can be resumed the same way.
type replay struct {
	out, errOut io.Writer
	skip        [2]int
	shown       *tally
	buf         lines.Buffer
}

// Write routes the complete lines of p.
func (r *replay) Write(p []byte) (int, error) {
	err := r.buf.Lines(p, func(line []byte) error {
		class := lineClass(line)
		if r.skip[class] > 0 {
			r.skip[class]--
			return nil
		}
		w := r.out
		if class == 0 {
			w = r.errOut
		}
		if _, err := w.Write(append(line, '\n')); err != nil {
			return err
		}
		r.shown.mu.Lock()
		r.shown.lines[class]++
		r.shown.mu.Unlock()
		return nil
	})
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// readyWatcher passes the runner's stderr through unchanged and calls
// onReady once, when the runner's ready line (probes attached) goes by, and
// onResult with the session's exit code (and the program's own exit(N),
// or 0) when its result line does.
type readyWatcher struct {
	w        io.Writer
	onReady  func()
	onResult func(code, program int)
	once     sync.Once
	buf      lines.Buffer
}

// Write passes p on and looks, line by line, for the runner's lines.
func (r *readyWatcher) Write(p []byte) (int, error) {
	n, err := r.w.Write(p)
	_ = r.buf.Lines(p, func(line []byte) error {
		// A session's log mixes its stdout and stderr: a runner line can
		// follow an unfinished line of the program's output.
		if bytes.Contains(line, []byte(protocol.ReadyPrefix)) && r.onReady != nil {
			r.once.Do(r.onReady)
		}
		if at := bytes.Index(line, []byte(protocol.ResultPrefix)); at >= 0 && r.onResult != nil {
			if code, ok := protocol.ParseResultLine(string(line[at:])); ok {
				program, _ := protocol.ParseProgramExit(string(line[at:]))
				r.onResult(code, program)
			}
		}
		return nil
	})
	return n, err
}
