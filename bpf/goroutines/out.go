package goroutines

import (
	"slices"

	"github.com/google/pprof/profile"

	"github.com/trace-debug/kubectl-trace-debug/bpf/mapmerge"
	"github.com/trace-debug/kubectl-trace-debug/bpf/stacks"
)

// Runs is the function a group's goroutines run: the outermost of their
// stack (what `go f()` started) but runtime.goexit; "" when they have no
// stack.
func (g Group) Runs() string {
	for i := len(g.Frames) - 1; i >= 0; i-- {
		if g.Frames[i].Func != "runtime.goexit" {
			return g.Frames[i].Func
		}
	}
	return ""
}

// Maps are d's counts as maps, for --assert: @goroutines, the goroutines
// by the function they run (see Runs; "running" when their stack moved
// under the reader), and @states, by state.
func (d *Dump) Maps() *mapmerge.Dump {
	by, states := map[string]int64{}, map[string]int64{}
	for _, g := range d.Groups {
		fn := g.Runs()
		if fn == "" {
			fn = g.State
		}
		by[fn] += int64(g.Count)
		states[g.State] += int64(g.Count)
	}
	return mapmerge.CountMaps(map[string]map[string]int64{"@goroutines": by, "@states": states})
}

// PProf is d as a goroutine profile in pprof's format (as
// /debug/pprof/goroutine gives it, `go tool pprof` reads it): sample type
// goroutine count, a sample per group labelled with its state, process
// and pod.
func (d *Dump) PProf() *profile.Profile {
	p := &stacks.Profile{}
	for _, g := range d.Groups {
		p.Stacks = append(p.Stacks, stacks.Stack{Frames: g.Frames, Count: uint64(g.Count), Process: g.Process, Pod: g.Pod})
	}
	out := p.PProf(nil)
	out.SampleType = []*profile.ValueType{{Type: "goroutine", Unit: "count"}}
	out.PeriodType, out.Period, out.DurationNanos = &profile.ValueType{Type: "goroutine", Unit: "count"}, 1, 0
	for i, s := range out.Sample {
		s.Value = slices.Clip(s.Value[:1])
		s.Label["state"] = []string{d.Groups[i].State}
	}
	return out
}
