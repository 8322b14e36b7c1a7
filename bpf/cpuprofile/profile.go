package cpuprofile

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/google/pprof/profile"
)

// Namer names an address: a function, or file+0xOFFSET, or the address.
type Namer interface {
	Name(addr uint64) string
}

// Frames names a stack's addresses, innermost first: the kernel's above
// the user's, as they were on the CPU. user names a process's addresses
// (nil when the process could not be read: its frames keep their address).
func (st Stack) Frames(user, kernel Namer) []string {
	out := make([]string, 0, len(st.Kernel)+len(st.User))
	for _, a := range st.Kernel {
		out = append(out, nameOr(kernel, a))
	}
	for _, a := range st.User {
		out = append(out, nameOr(user, a))
	}
	return out
}

func nameOr(n Namer, a uint64) string {
	if n == nil {
		return fmt.Sprintf("0x%x", a)
	}
	return n.Name(a)
}

// Sampled is one named stack and its sample count.
type Sampled struct {
	Frames []string // innermost first
	Count  uint64
}

// Profile builds a pprof profile of stacks sampled at hz: sample types
// "samples" (count) and "cpu" (nanoseconds, a sample standing for one
// period), one function and location per frame name, labels on every
// sample (pod and container, say).
func Profile(stacks []Sampled, hz int, labels map[string]string) *profile.Profile {
	period := int64(time.Second) / int64(hz)
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		PeriodType: &profile.ValueType{Type: "cpu", Unit: "nanoseconds"},
		Period:     period,
	}
	locs := map[string]*profile.Location{}
	label := map[string][]string{}
	for k, v := range labels {
		label[k] = []string{v}
	}
	for _, st := range stacks {
		s := &profile.Sample{Value: []int64{int64(st.Count), int64(st.Count) * period}, Label: label}
		for _, name := range st.Frames {
			loc, ok := locs[name]
			if !ok {
				fn := &profile.Function{ID: uint64(len(p.Function) + 1), Name: name, SystemName: name}
				p.Function = append(p.Function, fn)
				loc = &profile.Location{ID: uint64(len(p.Location) + 1), Line: []profile.Line{{Function: fn}}}
				p.Location = append(p.Location, loc)
				locs[name] = loc
			}
			s.Location = append(s.Location, loc)
		}
		p.Sample = append(p.Sample, s)
	}
	return p
}

// Folded writes stacks as folded lines, `outer;...;inner COUNT`, which
// flamegraph.pl, speedscope and inferno read; equal stacks are summed.
func Folded(stacks []Sampled) string {
	sums := map[string]uint64{}
	for _, st := range stacks {
		frames := slices.Clone(st.Frames)
		slices.Reverse(frames)
		sums[strings.Join(frames, ";")] += st.Count
	}
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(sums)) {
		fmt.Fprintf(&b, "%s %d\n", k, sums[k])
	}
	return b.String()
}
