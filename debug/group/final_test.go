package group

import (
	"strings"
	"testing"

	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
)

// liveWrites records every write Final passes on.
type liveWrites struct{ writes []string }

func (l *liveWrites) Write(b []byte) (int, error) {
	l.writes = append(l.writes, string(b))
	return len(b), nil
}

func TestFinal(t *testing.T) {
	m := protocol.MapsLine
	for _, c := range []struct {
		name         string
		writes       []string
		live         []string // what Live got, write by write, before Close
		closed, kept string   // what Close passed on; what was kept
		found        bool
	}{
		{"lines, then the maps", []string{"a\nb\n" + m + "\n@x: 1\n"}, []string{"a\n", "b\n"}, "", "@x: 1\n", true},
		{"no maps line", []string{"a\n", "b"}, []string{"a\n", "b"}, "", "", false},
		{"a partial line shows at once", []string{"dot.", "dot.", "\n"}, []string{"dot.", "dot.", "\n"}, "", "", false},
		{"what could begin the maps line waits", []string{"x" + m[:5], m[5:] + "\n@y: 2\n"}, []string{"x", "\n"}, "", "@y: 2\n", true},
		{"held text that is no maps line", []string{m[:5], "!\n"}, []string{m[:5] + "!\n"}, "", "", false},
		{"the maps line split anyhow", []string{m[:3], m[3:10], m[10:], "\n", "@z", ": 3\n"}, nil, "", "@z: 3\n", true},
		{"an unfinished last line", []string{"a\nlast"}, []string{"a\n", "las"}, "t", "", false}, // a "t" could begin the maps line
		{"held at the end", []string{"a\n" + m[:4]}, []string{"a\n"}, m[:4], "", false},
		{"after the maps line on its line", []string{m + " extra\n@x: 1"}, nil, "", " extra\n@x: 1", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			live := &liveWrites{}
			f := &Final{Live: live}
			for _, w := range c.writes {
				if n, err := f.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write(%q) = %d, %v", w, n, err)
				}
			}
			if strings.Join(live.writes, "|") != strings.Join(c.live, "|") {
				t.Fatalf("live writes %q, want %q", live.writes, c.live)
			}
			live.writes = nil
			f.Close()
			kept, found := f.Kept()
			if strings.Join(live.writes, "") != c.closed || kept != c.kept || found != c.found {
				t.Fatalf("closed %q, kept %q (%v); want %q, %q (%v)", live.writes, kept, found, c.closed, c.kept, c.found)
			}
		})
	}
}
