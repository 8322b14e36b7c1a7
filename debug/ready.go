package debug

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
)

// readyWatcher passes the runner's stderr through unchanged and calls
// onReady once, when the runner's ready line (probes attached) goes by, and
// onResult with the session's exit code when its result line does.
type readyWatcher struct {
	w        io.Writer
	onReady  func()
	onResult func(code int)
	once     sync.Once
	buf      lineBuffer
}

// Write passes p on and looks, line by line, for the runner's lines.
func (r *readyWatcher) Write(p []byte) (int, error) {
	n, err := r.w.Write(p)
	_ = r.buf.lines(p, func(line []byte) error {
		// A session's log mixes its stdout and stderr: a runner line can
		// follow an unfinished line of the program's output.
		if bytes.Contains(line, []byte(protocol.ReadyPrefix)) && r.onReady != nil {
			r.once.Do(r.onReady)
		}
		if at := bytes.Index(line, []byte(protocol.ResultPrefix)); at >= 0 && r.onResult != nil {
			if code, ok := protocol.ParseResultLine(string(line[at:])); ok {
				r.onResult(code)
			}
		}
		return nil
	})
	return n, err
}

// writeReadyFile writes the session's name to path, atomically, so a script
// waiting for the file never reads it half written.
func writeReadyFile(path, session string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".ready-*")
	if err != nil {
		return fmt.Errorf("write ready file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := fmt.Fprintln(tmp, session); err != nil {
		tmp.Close()
		return fmt.Errorf("write ready file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write ready file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write ready file: %w", err)
	}
	return nil
}
