package runner

import (
	"bytes"
	"io"
)

// markerCutter passes the tracer's stdout on until the line that holds the
// marker, which it drops with everything after it, and then closes seen. A
// trailing fragment that could begin the marker's line is held back until
// the next write tells.
type markerCutter struct {
	w      io.Writer
	added  int // probes the runner added, taken off bpftrace's JSON count
	marker []byte
	seen   chan<- struct{}
	held   []byte
	cut    bool
}

func newMarkerCutter(w io.Writer, marker string, added int, seen chan<- struct{}) *markerCutter {
	return &markerCutter{w: w, added: added, marker: []byte(marker), seen: seen}
}

func (m *markerCutter) Write(p []byte) (int, error) {
	if m.cut {
		return len(p), nil
	}
	buf := append(m.held, p...)
	m.held = nil
	if bytes.Contains(buf, []byte(`"attached_probes"`)) {
		buf = []byte(userProbeCount(string(buf), m.added))
	}
	if i := bytes.Index(buf, m.marker); len(m.marker) > 0 && i >= 0 {
		start := bytes.LastIndexByte(buf[:i], '\n') + 1
		m.cut = true
		_, err := m.w.Write(buf[:start])
		close(m.seen)
		return len(p), err
	}
	// Hold back the last line if it is unfinished and could still grow into
	// the marker's line (text: the marker; JSON: a printf object).
	keep := len(buf)
	if j := bytes.LastIndexByte(buf, '\n'); j < len(buf)-1 {
		last := buf[j+1:]
		if len(m.marker) > 0 && len(last) < len(m.marker)+64 && (bytes.HasPrefix(m.marker, last) || bytes.HasPrefix([]byte(`{"type": "printf"`), last) || bytes.HasPrefix(last, []byte(`{"type": "printf"`))) {
			keep = j + 1
		}
	}
	m.held = append([]byte(nil), buf[keep:]...)
	if _, err := m.w.Write(buf[:keep]); err != nil {
		return len(p), err
	}
	return len(p), nil
}

// Flush writes what is held back; call it once the tracer has exited.
func (m *markerCutter) Flush() {
	if !m.cut && len(m.held) > 0 {
		_, _ = m.w.Write(m.held)
		m.held = nil
	}
}
