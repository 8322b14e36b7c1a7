package debug

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
)

// logSettle is how long a followed log must be quiet after the runner's
// result line before it is taken as complete: the runtime copies a
// container's stdout and stderr into its log separately, so the last of the
// summary can land just after the result line.
const logSettle = 300 * time.Millisecond

// logs copies the session's log to w, noting the runner's ready and result
// lines, as opts says (follow, tail). A followed log ends at the result line
// once settled (the output is complete, though the container may still be
// detaching probes), at its end, or when ctx ends; none of these is an
// error.
func (t *tracer) logs(ctx context.Context, opts *corev1.PodLogOptions, w io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	opts.Container = t.name
	rc, err := t.Client.CoreV1().Pods(t.Namespace).GetLogs(t.pod, opts).Stream(ctx)
	if err != nil {
		return apiError(err, "read session "+t.name+" output", "")
	}
	defer rc.Close()
	ww := t.watcher(w)
	ended := false
	ww.onResult = func(code int) { t.setResult(code); ended = true }
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
			return fmt.Errorf("read session %s output: %w", t.name, err)
		case <-ctx.Done():
			return nil
		}
	}
}

// lineClass sorts a session's output lines the way its log mixes them: the
// runner's own lines (on its stderr) and the rest (the program's output).
func lineClass(line []byte) int {
	if bytes.HasPrefix(line, []byte(protocol.RunnerPrefix)) {
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
	return &lineSplitter{w: w, line: func(l []byte) {
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

// lineBuffer collects what is written and hands out its complete lines;
// the writers that work line by line share it.
type lineBuffer struct{ partial []byte }

// lines adds p and calls each with every line it completes (without its
// newline; each must not keep the slice), stopping at each's first error.
func (b *lineBuffer) lines(p []byte, each func(line []byte) error) error {
	b.partial = append(b.partial, p...)
	for {
		i := bytes.IndexByte(b.partial, '\n')
		if i < 0 {
			return nil
		}
		line := b.partial[:i]
		b.partial = b.partial[i+1:]
		if err := each(line); err != nil {
			return err
		}
	}
}

// rest returns, and forgets, an unfinished last line.
func (b *lineBuffer) rest() []byte {
	r := b.partial
	b.partial = nil
	return r
}

// lineSplitter passes everything on to w and calls line for each complete line.
type lineSplitter struct {
	w    io.Writer
	line func([]byte)
	buf  lineBuffer
}

// Write passes p on and calls line for every line it completes.
func (s *lineSplitter) Write(p []byte) (int, error) {
	n, err := s.w.Write(p)
	_ = s.buf.lines(p, func(l []byte) error { s.line(l); return nil })
	return n, err
}

// replay takes the session's log after its attached stream broke: it drops
// the lines already shown (skip, by lineClass) and sends each other line to
// stderr when it is the runner's, else to stdout. The skipped lines are
// counted in, so a replay that breaks again can be resumed the same way.
type replay struct {
	out, errOut io.Writer
	skip        [2]int
	shown       *tally
	buf         lineBuffer
}

// Write routes the complete lines of p.
func (r *replay) Write(p []byte) (int, error) {
	err := r.buf.lines(p, func(line []byte) error {
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
