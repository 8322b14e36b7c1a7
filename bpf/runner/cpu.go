package runner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/trace-debug/kubectl-trace-debug/bpf/cpuprofile"
	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
	"github.com/trace-debug/kubectl-trace-debug/bpf/stacks"
	"github.com/trace-debug/kubectl-trace-debug/bpf/symbols"
)

// cpuEngine is the native CPU profile (--cpu): the on-CPU stacks of the
// target's PID namespace, sampled at the session's rate on every CPU until
// the session stops, then named in the pod (cpuprofile.Name) and written
// after protocol.MapsLine as the JSON lines of package stacks, for the
// client to show.
type cpuEngine struct{ o Options }

func (cpuEngine) NeedsKernelTypes() bool { return false }
func (cpuEngine) PeakMemory() uint64     { return nativePeakMemory }

// Start attaches the sampler.
func (e cpuEngine) Start(_ context.Context, t Target) (Trace, error) {
	o := e.o
	s, err := cpuprofile.Start(cpuprofile.Target{
		PIDNamespace: filepath.Join(t.ProcRoot, strconv.Itoa(t.PID), "ns/pid"),
		Self:         uint32(os.Getpid()),
		Hz:           o.Session.CPUHz,
		Process:      func(pid uint32) (*symbols.Process, error) { return symbols.NewProcess(t.ProcRoot, int(pid)) },
	})
	if err != nil {
		return nil, err
	}
	started := time.Now()
	o.announce(s.CPUs(), fmt.Sprintf("Sampling the on-CPU stacks of the target's processes at %d Hz on %d CPUs... Hit Ctrl-C to end.", o.Session.CPUHz, s.CPUs()))
	return newNativeTrace(s.CPUs(), o.StopGrace, func() int {
		defer s.Close()
		s.Stop()
		sampled, lost, err := s.Stacks()
		if err != nil {
			o.say("%v", err)
			return 1
		}
		p := cpuprofile.Name(t.ProcRoot, sampled, s.Processes())
		p.Hz, p.CPUs, p.Duration = o.Session.CPUHz, s.CPUs(), time.Since(started)
		p.Lost.UserStacks, p.Lost.KernelStacks, p.Lost.Samples = lost.UserStacks, lost.KernelStacks, lost.Samples
		fmt.Fprintln(o.Stdout, protocol.MapsLine) // the client reads the profile after it
		if err := stacks.Write(o.Stdout, p); err != nil {
			o.say("write the profile: %v", err)
			return 1
		}
		o.say("%d samples in %d distinct stacks%s", p.Samples(), len(p.Stacks), p.Lost.Note())
		o.say("user stacks: %d unwound by Go's and the call-frame tables to their top, %d by them then frame pointers, %d by frame pointers alone (%d with no stack copy), %d stopped short%s",
			lost.ByTables, lost.Spliced, lost.ByFramePointers, lost.NoStackCopy, lost.Stopped, stopReasons(lost.Stops))
		o.say("peak memory of the runner: %s", peakMemory())
		return 0
	}), nil
}

// stopReasons says why user stacks stopped short, the commonest first
// (at most three), as " (N: why; ...)"; "" for none.
func stopReasons(stops map[string]uint64) string {
	type reason struct {
		why string
		n   uint64
	}
	var rs []reason
	for why, n := range stops {
		rs = append(rs, reason{why, n})
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].n > rs[j].n || rs[i].n == rs[j].n && rs[i].why < rs[j].why })
	var parts []string
	for i, r := range rs {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("%d more reasons", len(rs)-3))
			break
		}
		parts = append(parts, fmt.Sprintf("%d: %s", r.n, r.why))
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, "; ") + ")"
}
