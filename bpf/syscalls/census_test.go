package syscalls

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// childNamespace returns /proc/PID/ns/pid of unshare's forked child, once
// that child runs the shell (its own execve is then behind it).
func childNamespace(t *testing.T, unsharePID int) string {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(unsharePID) + "/task/" + strconv.Itoa(unsharePID) + "/children")
		if err != nil || strings.TrimSpace(string(b)) == "" {
			continue
		}
		child := "/proc/" + strings.Fields(string(b))[0]
		if comm, err := os.ReadFile(child + "/comm"); err == nil && strings.TrimSpace(string(comm)) == "sh" {
			return child + "/ns/pid"
		}
	}
	t.Fatal("unshare's child did not start the shell")
	return ""
}

func TestName(t *testing.T) {
	if Name(1<<20) != "syscall_1048576" {
		t.Fatalf("unknown syscall named %q", Name(1<<20))
	}
	for _, n := range []string{"read", "write", "execve"} {
		found := false
		for _, v := range names {
			found = found || v == n
		}
		if !found {
			t.Errorf("no %s in this architecture's table", n)
		}
	}
}
