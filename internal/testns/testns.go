// Package testns starts the processes root tests trace, each as PID 1 of
// a PID namespace of its own, as a pod's container would be.
package testns

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Start runs command as PID 1 of a PID namespace of its own (unshare) and
// returns its PID here; it is killed when the test ends.
func Start(t *testing.T, command ...string) int {
	t.Helper()
	cmd := exec.Command("unshare", append([]string{"--pid", "--fork"}, command...)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/task/" + strconv.Itoa(cmd.Process.Pid) + "/children")
		if f := strings.Fields(string(b)); len(f) > 0 {
			pid, _ := strconv.Atoi(f[0])
			t.Cleanup(func() { _ = exec.Command("kill", "-9", f[0]).Run() })
			return pid
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%v did not start", command)
	return 0
}
