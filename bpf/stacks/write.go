package stacks

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/pprof/profile"
)

// PProf is p as a pprof profile: sample types "samples" (count) and "cpu"
// (nanoseconds, each sample standing for one period), a function per name
// and file, a location per function and line, and labels on every sample:
// the given ones (the container, say), the process and the pod.
//
// A memory profile (p.Heap) has Go's own heap profile's sample types
// instead (HeapTypes, in-use bytes the default; allocated bytes for
// --alloc's), its period the sampling rate in bytes.
func (p *Profile) PProf(labels map[string]string) *profile.Profile {
	period := int64(time.Second) / int64(max(p.Hz, 1))
	out := &profile.Profile{
		SampleType:    []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		PeriodType:    &profile.ValueType{Type: "cpu", Unit: "nanoseconds"},
		Period:        period,
		DurationNanos: int64(p.Duration),
	}
	if p.Heap != nil {
		out.SampleType, out.PeriodType, out.Period = HeapTypes, &profile.ValueType{Type: "space", Unit: "bytes"}, p.Heap.Rate
		out.DefaultSampleType = "inuse_space"
		if p.Heap.Alloc {
			out.DefaultSampleType = "alloc_space"
		}
	}
	funcs := map[[2]string]*profile.Function{}
	locs := map[Frame]*profile.Location{}
	for _, s := range p.Stacks {
		label := map[string][]string{}
		for k, v := range labels {
			label[k] = []string{v}
		}
		if s.Process != "" {
			label["process"] = []string{s.Process}
		}
		if s.Pod != "" {
			label["pod"] = []string{s.Pod}
		}
		sample := &profile.Sample{Value: []int64{int64(s.Count), int64(s.Count) * period}, Label: label}
		if p.Heap != nil {
			sample.Value = append([]int64(nil), s.Values...)
			if len(sample.Value) != len(HeapTypes) {
				sample.Value = make([]int64, len(HeapTypes))
			}
		}
		for _, f := range s.Frames {
			loc, ok := locs[f]
			if !ok {
				fn, ok := funcs[[2]string{f.Func, f.File}]
				if !ok {
					fn = &profile.Function{ID: uint64(len(out.Function) + 1), Name: f.Func, SystemName: f.Func, Filename: f.File}
					out.Function = append(out.Function, fn)
					funcs[[2]string{f.Func, f.File}] = fn
				}
				loc = &profile.Location{ID: uint64(len(out.Location) + 1), Line: []profile.Line{{Function: fn, Line: int64(f.Line)}}}
				out.Location = append(out.Location, loc)
				locs[f] = loc
			}
			sample.Location = append(sample.Location, loc)
		}
		out.Sample = append(out.Sample, sample)
	}
	return out
}

// Folded writes p as folded lines, `outer;...;inner COUNT`, which
// flamegraph.pl, speedscope and inferno read; equal stacks are summed and
// lines sorted. With perPod, each stack starts with its pod's name.
func (p *Profile) Folded(perPod bool) string {
	sums := map[string]uint64{}
	for _, s := range p.Stacks {
		names := make([]string, 0, len(s.Frames)+1)
		if perPod && s.Pod != "" {
			names = append(names, s.Pod)
		}
		for i := len(s.Frames) - 1; i >= 0; i-- {
			names = append(names, strings.ReplaceAll(s.Frames[i].Func, ";", ":"))
		}
		if len(names) == 0 {
			names = append(names, "[no stack]")
		}
		sums[strings.Join(names, ";")] += s.Count
	}
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(sums)) {
		fmt.Fprintf(&b, "%s %d\n", k, sums[k])
	}
	return b.String()
}

// Row is one function of the top table: the samples where it was on the
// CPU itself (Self) and where it was on the stack at all (Total).
type Row struct {
	Func  string `json:"func"`
	Self  uint64 `json:"self"`
	Total uint64 `json:"total"`
}

// Top is p's functions by self samples, then total, then name.
func (p *Profile) Top() []Row {
	rows := map[string]*Row{}
	row := func(name string) *Row {
		r, ok := rows[name]
		if !ok {
			r = &Row{Func: name}
			rows[name] = r
		}
		return r
	}
	for _, s := range p.Stacks {
		if len(s.Frames) == 0 {
			continue
		}
		row(s.Frames[0].Func).Self += s.Count
		seen := map[string]bool{}
		for _, f := range s.Frames {
			if !seen[f.Func] { // recursion counts once
				seen[f.Func] = true
				row(f.Func).Total += s.Count
			}
		}
	}
	out := make([]Row, 0, len(rows))
	for _, r := range rows {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b Row) int {
		return cmp.Or(cmp.Compare(b.Self, a.Self), cmp.Compare(b.Total, a.Total), cmp.Compare(a.Func, b.Func))
	})
	return out
}

// Share is the share of p's samples that a Row's count is, in percent.
func (p *Profile) Share(n uint64) float64 {
	total := p.Samples()
	if total == 0 {
		return 0
	}
	return 100 * float64(n) / float64(total)
}

// TotalShares is each function's total (cumulative) share of p's
// samples, in percent: how profiles are held against each other (a
// profile of trace-debug's against the runtime's own).
func (p *Profile) TotalShares() map[string]float64 {
	out := map[string]float64{}
	for _, r := range p.Top() {
		out[r.Func] = p.Share(r.Total)
	}
	return out
}

// WriteTop writes the n functions with the most self samples as a table,
// like `go tool pprof -top`: self and total share, and the samples.
func (p *Profile) WriteTop(w io.Writer, n int) error {
	each := (time.Second / time.Duration(max(p.Hz, 1))).Round(10 * time.Microsecond)
	switch {
	case p.Heap != nil && p.Heap.Alloc:
		fmt.Fprintf(w, "%s allocated in %v (the runtime's memory profile, sampled every %s and scaled as Go scales it; in bytes)\n",
			bytesText(p.Samples()), p.Duration.Round(time.Millisecond), bytesText(uint64(p.Heap.Rate)))
	case p.Heap != nil:
		fmt.Fprintf(w, "%s in use as of the last garbage collection (the runtime's memory profile, sampled every %s and scaled as Go scales it; in bytes)\n",
			bytesText(p.Samples()), bytesText(uint64(p.Heap.Rate)))
	case p.Wall:
		fmt.Fprintf(w, "%d wall samples, %d a second over %v (each sample about %v of one goroutine's or thread's time)\n",
			p.Samples(), p.Hz, p.Duration.Round(time.Millisecond), each)
	default:
		fmt.Fprintf(w, "%d samples at %d Hz over %v on %d CPUs (each sample about %v of CPU)\n",
			p.Samples(), p.Hz, p.Duration.Round(time.Millisecond), p.CPUs, each)
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "SELF\tSELF%\tTOTAL\tTOTAL%\t FUNCTION")
	for i, r := range p.Top() {
		if i == n || r.Total == 0 { // (a memory profile's stack can hold nothing of the value shown)
			break
		}
		fmt.Fprintf(tw, "%d\t%.1f%%\t%d\t%.1f%%\t %s\n", r.Self, p.Share(r.Self), r.Total, p.Share(r.Total), r.Func)
	}
	return tw.Flush()
}

// WriteJSON writes p as one JSON document: the profile, its top
// functions with their shares, and its stacks.
func (p *Profile) WriteJSON(w io.Writer) error {
	type share struct {
		Row
		SelfPercent  float64 `json:"self_percent"`
		TotalPercent float64 `json:"total_percent"`
	}
	var top []share
	for _, r := range p.Top() {
		top = append(top, share{r, p.Share(r.Self), p.Share(r.Total)})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		*Profile
		Samples uint64  `json:"samples"`
		Top     []share `json:"top"`
		Stacks  []Stack `json:"stacks"`
	}{p, p.Samples(), top, p.Stacks})
}
