//go:build e2e

package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	corev1 "k8s.io/api/core/v1"

	"github.com/trace-debug/kubectl-trace-debug/bpf/stacks"
	"github.com/trace-debug/kubectl-trace-debug/internal/testgo"
)

// --cpu's profile of a stripped Go server running a mixed workload agrees
// with the server's own profiler (net/http/pprof) over the same seconds:
// every function's cumulative share within 5 points.
func TestCPUAgreesWithGo(t *testing.T) {
	ns := newNamespace(t)
	d := startDemo(t, ns, func(p *corev1.Pod) {
		c := &p.Spec.Containers[0]
		c.Command = append([]string{"/app/server-stripped"}, append(c.Command[1:], "-mix")...)
	})
	ours, theirs, diffs := profileAgainstGo(t, ns, d, 10*time.Second)
	t.Logf("%d samples ours, %d Go's:\n%s", ours.Samples(), theirs.Samples(), diffs.String())
	if worst := diffs.worst(); worst > 5 {
		t.Errorf("cumulative shares differ from Go's own profile by up to %.1f points, want 5 at most", worst)
	}
}

// shareDiffs are the functions' cumulative shares, ours and Go's.
type shareDiffs []struct {
	fn           string
	ours, theirs float64
}

// worst is the largest difference, in points.
func (d shareDiffs) worst() float64 {
	w := 0.0
	for _, r := range d {
		w = max(w, r.ours-r.theirs, r.theirs-r.ours)
	}
	return w
}

func (d shareDiffs) String() string {
	var rows []string
	for _, r := range d {
		rows = append(rows, fmt.Sprintf("%-28s ours %5.1f%%  Go's %5.1f%%  %+5.1f", r.fn, r.ours, r.theirs, r.ours-r.theirs))
	}
	sort.Strings(rows)
	return strings.Join(rows, "\n")
}

// profileAgainstGo profiles demo pod d with --cpu (as pprof) and with its
// own profiler over the same window, and compares testgo.MixFuncs' shares.
func profileAgainstGo(t *testing.T, ns string, d demoPod, window time.Duration) (ours, theirs *stacks.Profile, diffs shareDiffs) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "ours.pprof")
	s := startPlugin(t, "-n", ns, "pod/"+d.name, "--cpu", "--duration", (window + time.Second).String(), "-o", "pprof", "--output-file", file)
	s.waitOutput(t, "Sampling the on-CPU stacks", 90*time.Second)
	resp, err := http.Get(fmt.Sprintf("%sdebug/pprof/profile?seconds=%d", d.url(), int(window.Seconds())))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	pp, err := profile.Parse(resp.Body)
	if err != nil {
		t.Fatalf("Go's profile: %v", err)
	}
	if code := s.wait(t, 90*time.Second); code != 0 {
		t.Fatalf("--cpu: code %d\n%s", code, s.stderr.String())
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	op, err := profile.Parse(f)
	if err != nil {
		t.Fatalf("--cpu -o pprof: %v", err)
	}
	if ours, err = stacks.FromPProf(op); err != nil {
		t.Fatal(err)
	}
	if theirs, err = stacks.FromPProf(pp); err != nil {
		t.Fatal(err)
	}
	a, b := ours.TotalShares(), theirs.TotalShares()
	for _, fn := range testgo.MixFuncs {
		diffs = append(diffs, struct {
			fn           string
			ours, theirs float64
		}{fn, a[fn], b[fn]})
	}
	return ours, theirs, diffs
}
