package runner

import (
	"strings"
	"testing"
	"time"

	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
)

// The session ends at its Deadline from the runner's start, or at the
// client's NotAfter when sooner, unless the clocks plainly disagree.
func TestSessionEnd(t *testing.T) {
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	s := protocol.DefaultSession() // 1 h
	for _, c := range []struct {
		name     string
		notAfter time.Time
		want     time.Time
		note     string
	}{
		{"no NotAfter", time.Time{}, now.Add(time.Hour), ""},
		{"started on time", now.Add(time.Hour), now.Add(time.Hour), ""},
		{"started late", now.Add(10 * time.Minute), now.Add(10 * time.Minute), ""},
		{"already over", now.Add(-time.Minute), now.Add(-time.Minute), ""},
		{"clocks disagree", now.Add(-2 * time.Hour), now.Add(time.Hour), "clocks disagree"},
	} {
		s.NotAfter = c.notAfter
		got, note := sessionEnd(s, now)
		if !got.Equal(c.want) || !strings.Contains(note, c.note) || (c.note == "") != (note == "") {
			t.Errorf("%s: end %v (%q), want %v (%q)", c.name, got, note, c.want, c.note)
		}
	}
}
