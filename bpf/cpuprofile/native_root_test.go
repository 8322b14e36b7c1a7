//go:build root

package cpuprofile

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/trace-debug/kubectl-trace-debug/bpf/symbols"
	"github.com/trace-debug/kubectl-trace-debug/internal/testns"
)

// A C program built -O2 (no frame pointers: GCC's default), whose hot
// leaf has two callers at a known 3:1, profiles with each caller's
// cumulative share within 5 points of its truth: its stacks are unwound
// by .eh_frame (frame pointers alone name neither caller: red seen).
func TestNativeCallersByCFI(t *testing.T) {
	exe := filepath.Join(t.TempDir(), "callers")
	if out, err := exec.Command("gcc", "-O2", "-o", exe, "../cfi/testdata/callers.c").CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	target := testns.Start(t, exe)
	read := func(uint32) (*symbols.Process, error) { return symbols.NewProcess("/proc", target) }
	s, err := Start(Target{PIDNamespace: "/proc/" + strconv.Itoa(target) + "/ns/pid", Hz: 499, Process: read})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	time.Sleep(4 * time.Second)
	s.Stop()
	sampled, lost, err := s.Stacks()
	if err != nil {
		t.Fatal(err)
	}
	proc, err := read(1)
	if err != nil {
		t.Fatal(err)
	}
	p := Name("/proc", sampled, map[uint32]*symbols.Process{1: proc})
	shares := p.TotalShares()
	t.Logf("%d samples; unwound: %d by tables, %d spliced, %d by frame pointers, %d stopped %v; caller_a %.1f%%, caller_b %.1f%%, main %.1f%%",
		p.Samples(), lost.ByTables, lost.Spliced, lost.ByFramePointers, lost.Stopped, lost.Stops, shares["caller_a"], shares["caller_b"], shares["main"])
	leaf := shares["leaf"]
	if leaf < 90 {
		t.Fatalf("leaf has %.1f%% of the samples, want nearly all", leaf)
	}
	for fn, truth := range map[string]float64{"caller_a": 0.75 * leaf, "caller_b": 0.25 * leaf, "main": leaf} {
		if d := shares[fn] - truth; d > 5 || d < -5 {
			t.Errorf("%s: %.1f%% cumulative, its truth %.1f%%: more than 5 points off", fn, shares[fn], truth)
		}
	}
}
