//go:build root

package syscalls

import (
	"os"
	"os/exec"
	"testing"
)

// This test loads a real eBPF program: make test runs it as root (-tags root).

// TestCensusCountsOneNamespace loads the real program, restricted to the PID
// namespace of a child started with unshare, and checks that it counts that
// namespace's syscalls exactly and nothing from outside it.
func TestCensusCountsOneNamespace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("the census test loads a real eBPF program: run it as root")
	}
	// In a new PID namespace, a shell waits for a go-ahead line (read is a
	// builtin: no exec), then starts /bin/true three times: three execve
	// calls by comm "sh".
	cmd := exec.Command("unshare", "--pid", "--fork", "--", "/bin/sh", "-c", "read go; /bin/true; /bin/true; /bin/true")
	goAhead, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	nsPath := childNamespace(t, cmd.Process.Pid)

	c, err := Start(Target{PIDNamespace: nsPath})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := 0; i < 5; i++ { // outside the namespace: not counted
		if err := exec.Command("/bin/true").Run(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := goAhead.Write([]byte("go\n")); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	counts, dropped, err := c.Counts()
	if err != nil {
		t.Fatal(err)
	}
	execs := map[string]uint64{}
	for _, n := range counts {
		if n.Name == "execve" {
			execs[n.Comm] += n.Calls
		}
	}
	if execs["sh"] != 3 || len(execs) != 1 || dropped != 0 {
		t.Fatalf("execve by comm = %v (dropped %d), want exactly 3 by sh: the namespace's, and none from outside", execs, dropped)
	}
	if len(counts) < 5 || counts[0].Calls < counts[len(counts)-1].Calls {
		t.Fatalf("counts not sorted or too few: %+v", counts)
	}
}
