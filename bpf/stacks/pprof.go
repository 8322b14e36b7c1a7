package stacks

import (
	"fmt"

	"github.com/google/pprof/profile"
)

// FromPProf reads a CPU profile in pprof's format (Go's own
// /debug/pprof/profile, go tool pprof's) as a Profile: each sample's
// locations as frames, innermost first, a location's inlined calls as
// frames of their own, its count the samples' first value. It is how a
// profile of trace-debug's is held against the runtime's own.
func FromPProf(pp *profile.Profile) (*Profile, error) {
	if len(pp.SampleType) == 0 {
		return nil, fmt.Errorf("read the pprof profile: it has no sample types")
	}
	p := &Profile{}
	if pp.Period > 0 && pp.PeriodType != nil && pp.PeriodType.Unit == "nanoseconds" {
		p.Hz = int(1e9 / pp.Period)
	}
	for _, s := range pp.Sample {
		if len(s.Value) == 0 || s.Value[0] <= 0 {
			continue
		}
		var frames []Frame
		for _, loc := range s.Location {
			for _, l := range loc.Line { // innermost first already
				if l.Function != nil {
					frames = append(frames, Frame{Func: l.Function.Name, File: l.Function.Filename, Line: int(l.Line)})
				}
			}
			if len(loc.Line) == 0 {
				frames = append(frames, Frame{Func: fmt.Sprintf("0x%x", loc.Address)})
			}
		}
		p.Stacks = append(p.Stacks, Stack{Frames: frames, Count: uint64(s.Value[0])})
	}
	return p, nil
}
