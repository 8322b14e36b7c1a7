//go:build root

package cpuprofile

import (
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"

	"github.com/trace-debug/kubectl-trace-debug/bpf/stacks"
	"github.com/trace-debug/kubectl-trace-debug/bpf/symbols"
	"github.com/trace-debug/kubectl-trace-debug/internal/testgo"
	"github.com/trace-debug/kubectl-trace-debug/internal/testns"
)

// The sampler's profile of the demo's mixed workload agrees with Go's own
// profiler over the same seconds: every function's cumulative share
// within 5 points. Stripped and not.
func TestProfileAgreesWithGo(t *testing.T) {
	for _, c := range []struct {
		name  string
		flags []string
	}{{"symbols", nil}, {"stripped", []string{"-ldflags=-s -w"}}} {
		t.Run(c.name, func(t *testing.T) {
			exe := filepath.Join(t.TempDir(), "server")
			build := exec.Command("go", append(append([]string{"build", "-o", exe}, c.flags...), "../../images/demo")...)
			if out, err := build.CombinedOutput(); err != nil {
				t.Fatalf("build the demo: %v\n%s", err, out)
			}
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := l.Addr().String()
			l.Close()
			target := testns.Start(t, exe, "-mix", "-listen", addr)
			for i := 0; i < 100; i++ {
				if resp, err := http.Get("http://" + addr + "/rounds"); err == nil {
					resp.Body.Close()
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			ours, theirs := profileBoth(t, target, addr, 10)
			compare(t, ours, theirs, 5)
		})
	}
}

// profileBoth profiles the process target (serving Go's profiler at addr)
// with the sampler and with Go's own profiler over the same seconds.
func profileBoth(t *testing.T, target int, addr string, seconds int) (ours, theirs *stacks.Profile) {
	t.Helper()
	read := func(uint32) (*symbols.Process, error) { return symbols.NewProcess("/proc", target) }
	s, err := Start(Target{PIDNamespace: "/proc/" + strconv.Itoa(target) + "/ns/pid", Hz: 99, Process: read})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, seconds))
	s.Stop()
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	pp, err := profile.Parse(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if theirs, err = stacks.FromPProf(pp); err != nil {
		t.Fatal(err)
	}
	sampled, lost, err := s.Stacks()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("lost %+v", lost)
	procs := map[uint32]*symbols.Process{}
	for _, st := range sampled { // the target is PID 1 of its namespace, named here through its PID in ours
		procs[st.PID], _ = read(st.PID)
	}
	return Name("/proc", sampled, procs), theirs
}

// compare fails unless every function of testgo.MixFuncs has, in ours, the
// cumulative share it has in theirs within points.
func compare(t *testing.T, ours, theirs *stacks.Profile, points float64) {
	t.Helper()
	a, b := ours.TotalShares(), theirs.TotalShares()
	var rows []string
	bad := false
	for _, f := range testgo.MixFuncs {
		d := a[f] - b[f]
		mark := ""
		if d > points || d < -points {
			mark, bad = "  <-- off", true
		}
		rows = append(rows, fmt.Sprintf("%-40s ours %5.1f%%  Go's %5.1f%%  %+5.1f%s", f, a[f], b[f], d, mark))
	}
	sort.Strings(rows)
	t.Logf("%d samples ours, %d Go's:\n%s", ours.Samples(), theirs.Samples(), strings.Join(rows, "\n"))
	if bad {
		t.Errorf("cumulative shares differ by more than %.0f points from Go's own profile", points)
	}
}
