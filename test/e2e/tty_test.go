//go:build e2e

package e2e

import (
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestInteractiveCtrlC: an SRE at a terminal. The plugin runs in a real TTY
// (tmux); Ctrl-C typed there stops the trace, the map summary is printed on
// that terminal and the command exits 0.
func TestInteractiveCtrlC(t *testing.T) {
	t.Parallel()
	d := startDemo(t, newNamespace(t), nil)
	session := "td-" + d.ns
	cmdline := pluginBin + " --kubeconfig " + kubeconfig + " -n " + d.ns + " pod/" + d.name +
		` -e 'BEGIN { printf("tracing\n"); } interval:ms:100 { @ticks = count(); }'; echo "exit=$?"; sleep 600`
	if out, err := exec.Command("tmux", "new-session", "-d", "-s", session, "-x", "200", "-y", "50", cmdline).CombinedOutput(); err != nil {
		t.Fatalf("tmux: %v\n%s", err, out)
	}
	defer exec.Command("tmux", "kill-session", "-t", session).Run()
	screen := func() string {
		out, _ := exec.Command("tmux", "capture-pane", "-p", "-t", session).Output()
		return string(out)
	}
	waitScreen := func(want string) {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if strings.Contains(screen(), want) {
				return
			}
		}
		t.Fatalf("the terminal never showed %q:\n%s", want, screen())
	}
	waitScreen("tracing")
	time.Sleep(500 * time.Millisecond)
	if out, err := exec.Command("tmux", "send-keys", "-t", session, "C-c").CombinedOutput(); err != nil {
		t.Fatalf("send Ctrl-C: %v\n%s", err, out)
	}
	waitScreen("exit=")
	s := screen()
	if !strings.Contains(s, "@ticks: ") || !strings.Contains(s, "exit=0") {
		t.Fatalf("Ctrl-C did not end with the map summary and exit 0:\n%s", s)
	}
	assertNoHarm(t, d, 10*time.Second)
}
