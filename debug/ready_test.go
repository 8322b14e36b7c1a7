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
		result int // -1: no result line
	}{
		{"one write", []string{"x\n" + protocol.ReadyLine(2) + "\ny\n"}, 1, -1},
		{"split across writes", []string{"abc\ntrace-debug-runner: probes", " attached (1)\n"}, 1, -1},
		{"twice counts once", []string{protocol.ReadyLine(1) + "\n" + protocol.ReadyLine(1) + "\n"}, 1, -1},
		// A log glues a runner line to an unfinished line of the program's.
		{"after unfinished output", []string{"Attached 3 probes" + protocol.ReadyLine(1) + "\n"}, 1, -1},
		{"no newline yet", []string{protocol.ReadyLine(1)}, 0, -1},
		{"absent", []string{"Attaching 1 probe...\n"}, 0, -1},
		{"result", []string{"@x: 1\n" + protocol.ResultLine(3) + "\n"}, 0, 3},
		{"result after unfinished output", []string{"partial", protocol.ResultLine(0) + "\n"}, 0, 0},
		{"result without code", []string{protocol.ResultPrefix + "\n"}, 0, -1},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out strings.Builder
			ready, result := 0, -1
			w := &readyWatcher{w: &out, onReady: func() { ready++ }, onResult: func(code int) { result = code }}
			for _, s := range c.writes {
				if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			if ready != c.ready || result != c.result {
				t.Fatalf("onReady called %d times, result %d; want %d, %d", ready, result, c.ready, c.result)
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
