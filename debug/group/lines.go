package group

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/trace-debug/kubectl-trace-debug/internal/lines"
)

// podLines writes whole lines to w, each marked with its pod: "[pod] " in
// front of text, a "pod" field first in each JSON object. Lines from
// several pods never mix (mu is shared).
type podLines struct {
	w    io.Writer
	pod  string
	json bool
	mu   *sync.Mutex
	buf  lines.Buffer
}

// Write passes the complete lines of p on, marked.
func (l *podLines) Write(p []byte) (int, error) {
	var out bytes.Buffer
	_ = l.buf.Lines(p, func(line []byte) error {
		out.WriteString(l.mark(string(line)))
		out.WriteByte('\n')
		return nil
	})
	if out.Len() == 0 {
		return len(p), nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.w.Write(out.Bytes()); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush writes what is left of an unfinished line.
func (l *podLines) Flush() {
	if l.buf.Pending() {
		_, _ = l.Write([]byte("\n"))
	}
}

// mark marks one line with the pod.
func (l *podLines) mark(line string) string {
	if l.json && strings.HasPrefix(line, "{") {
		rest := strings.TrimPrefix(line, "{")
		if strings.TrimSpace(rest) == "}" {
			return fmt.Sprintf(`{"pod": %q}`, l.pod)
		}
		return fmt.Sprintf(`{"pod": %q, %s`, l.pod, rest)
	}
	if line == "" {
		return ""
	}
	return "[" + l.pod + "] " + line
}
