//go:build e2e

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// restartComponent kills a component of the local cluster by its recorded
// PID (SIGKILL, as a crash), waits, and starts it again with scripts/cluster/up.sh (which starts
// what is not running and waits until the node is Ready).
func restartComponent(t *testing.T, name string, down time.Duration) {
	t.Helper()
	dir := os.Getenv("TRACE_DEBUG_CLUSTER_DIR")
	if dir == "" {
		t.Fatal("set TRACE_DEBUG_CLUSTER_DIR (scripts/test-e2e.sh does)")
	}
	b, err := os.ReadFile(filepath.Join(dir, "pids", name))
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil { // a crash: no graceful shutdown to wait for
		t.Fatal(err)
	}
	for i := 0; i < 100 && syscall.Kill(pid, 0) == nil; i++ {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(down)
	if out, err := exec.Command("../../scripts/cluster/up.sh").CombinedOutput(); err != nil {
		t.Fatalf("restart %s: %v\n%s", name, err, out)
	}
	// A restarted kubelet takes a while to start containers again: wait
	// until it does, so the tests after this one find a working node.
	t.Cleanup(func() { startDemo(t, newNamespace(t), nil) })
}

// TestRestartsMidSession: the API server or the kubelet restarted while a
// session streams. The attach stream goes through both, so it breaks; the
// runner sees its stdin (the client's, once) end and stops the trace the
// Ctrl-C way; the client picks the output up from the session's log once
// the cluster answers again, so the maps reach stdout, and nothing shown
// before the break is shown twice. Nothing outlives the session.
//
// Not parallel: the other tests need the control plane.
func TestRestartsMidSession(t *testing.T) {
	for _, component := range []string{"kube-apiserver", "kubelet"} {
		t.Run(component, func(t *testing.T) {
			d := startDemo(t, newNamespace(t), nil)
			s := startPlugin(t, "-n", d.ns, "pod/"+d.name, "-e", ready+counterProbe+` { @calls = count(); }`)
			s.waitOutput(t, "tracing\n", 60*time.Second)
			d.request(t, 2)
			restartComponent(t, component, 2*time.Second)
			code := s.wait(t, 3*time.Minute)
			if code != 0 || !strings.Contains(s.stderr.String(), "output stream broke") {
				t.Fatalf("exit code %d after the %s restart\n%s", code, component, s.stderr)
			}
			if calls := mapValue(t, s.stdout.String(), "@calls"); calls != 2 || strings.Count(s.stdout.String(), "tracing\n") != 1 {
				t.Fatalf("stdout after the %s restart: want @calls 2 and what was shown before the break once:\n%s\nstderr:\n%s", component, s.stdout, s.stderr)
			}
			assertNoHarm(t, d, 60*time.Second)
		})
	}
}
