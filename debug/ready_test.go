package debug

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
)

func TestReadyWatcher(t *testing.T) {
	for _, c := range []struct {
		name   string
		writes []string
		ready  int
	}{
		{"one write", []string{"x\n" + protocol.ReadyLine(2) + "\ny\n"}, 1},
		{"split across writes", []string{"abc\ntrace-debug-runner: probes", " attached (1)\n"}, 1},
		{"twice counts once", []string{protocol.ReadyLine(1) + "\n" + protocol.ReadyLine(1) + "\n"}, 1},
		{"not at line start", []string{"say " + protocol.ReadyLine(1) + "\n"}, 0},
		{"no newline yet", []string{protocol.ReadyLine(1)}, 0},
		{"absent", []string{"Attaching 1 probe...\n"}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out strings.Builder
			ready := 0
			w := &readyWatcher{w: &out, onReady: func() { ready++ }}
			for _, s := range c.writes {
				if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			if ready != c.ready {
				t.Fatalf("onReady called %d times, want %d", ready, c.ready)
			}
			if out.String() != strings.Join(c.writes, "") {
				t.Fatalf("output changed: %q", out.String())
			}
		})
	}
}

func TestWriteReadyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ready")
	if err := writeReadyFile(path, "trace-debug-abcde"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil || string(b) != "trace-debug-abcde\n" {
		t.Fatalf("ready file = %q, %v", b, err)
	}
	if err := writeReadyFile(filepath.Join(t.TempDir(), "no/such/dir/ready"), "x"); err == nil {
		t.Fatal("want an error for a missing directory")
	}
}
