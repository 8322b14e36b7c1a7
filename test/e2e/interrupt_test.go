//go:build e2e

package e2e

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/trace-debug/kubectl-trace-debug/debug"
)

// silentRegistry is a TCP listener that accepts connections and never
// answers: a registry that hangs, as a slow one does.
func silentRegistry(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c) // held open, never answered
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

// TestCtrlCWhileWaiting: Ctrl-C while the tracer image is being pulled from
// a registry that never answers ends the command at once, exit 130, saying
// what was left in the pod and when it ends; the same for SIGTERM, and for a
// subcommand waiting on the API (logs -f of a quiet detached session).
func TestCtrlCWhileWaiting(t *testing.T) {
	t.Parallel()
	d := startDemo(t, newNamespace(t), nil)
	image := silentRegistry(t) + "/trace-debug/runner:never"
	for _, sig := range []string{"SIGINT", "SIGTERM"} {
		t.Run(sig, func(t *testing.T) {
			s := startPlugin(t, "-n", d.ns, "pod/"+d.name, "--image", image, "-e", "BEGIN { exit(); }")
			s.waitOutput(t, "starting tracer", 30*time.Second)
			time.Sleep(3 * time.Second) // well into the pull
			if sig == "SIGINT" {
				s.interrupt(t)
			} else {
				s.terminate(t)
			}
			code := s.wait(t, 10*time.Second)
			stderr := s.stderr.String()
			if code != debug.ExitInterrupted || !strings.Contains(stderr, "interrupted while starting the trace") ||
				!strings.Contains(stderr, "was added to pod") || !strings.Contains(stderr, "exits by itself") {
				t.Fatalf("code %d, want %d saying what was left\n%s", code, debug.ExitInterrupted, stderr)
			}
		})
	}
	// Another pod: the kubelet syncs d no more while its pull hangs.
	d = startDemo(t, newNamespace(t), nil)
	out, stderr, code := runPlugin(t, 60*time.Second, "-n", d.ns, "pod/"+d.name, "--detach", "--deadline", "2m", "-e", "interval:s:100 { }")
	name := strings.TrimSpace(out)
	if code != 0 || !strings.HasPrefix(name, "trace-debug-") {
		t.Fatalf("detached session: code %d\n%s%s", code, out, stderr)
	}
	defer runPlugin(t, 60*time.Second, "stop", "-n", d.ns, "pod/"+d.name, name)
	logs := startPlugin(t, "logs", "-f", "-n", d.ns, "pod/"+d.name, name)
	time.Sleep(2 * time.Second)
	logs.interrupt(t)
	if code := logs.wait(t, 10*time.Second); code != debug.ExitInterrupted || !strings.Contains(logs.stderr.String(), "interrupted while running `logs`") {
		t.Fatalf("logs -f: code %d\n%s", code, logs.stderr)
	}
}

// TestDetachInterruptedBeforeReady: --detach prints the session's name as
// soon as the tracer exists; interrupted before the probes are attached, it
// stops the tracer rather than leave it running unwatched, and says so.
func TestDetachInterruptedBeforeReady(t *testing.T) {
	t.Parallel()
	d := startDemo(t, newNamespace(t), nil)
	// 360 tracepoints take seconds to attach: time to interrupt before.
	s := startPlugin(t, "-n", d.ns, "pod/"+d.name, "--detach", "-e", `tracepoint:syscalls:sys_enter_* { @[probe] = count(); }`)
	s.waitOutput(t, "trace-debug-", 60*time.Second)
	for !strings.HasPrefix(s.stdout.String(), "trace-debug-") {
		time.Sleep(20 * time.Millisecond)
	}
	s.interrupt(t)
	code := s.wait(t, 30*time.Second)
	if code != debug.ExitInterrupted || !strings.Contains(s.stderr.String(), "has been stopped") {
		t.Fatalf("code %d, want %d saying the tracer was stopped\n%s", code, debug.ExitInterrupted, s.stderr)
	}
	assertNoHarm(t, d, 90*time.Second)
}
