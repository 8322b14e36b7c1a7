// Package mapmerge combines the maps that bpftrace printed in several pods
// into the maps one tracer would have printed had it seen every event:
// counts and sums add, mins and maxes take the extreme, stats add their
// counts and totals, histograms add bucket by bucket. It reads bpftrace's
// own text and JSON output and writes the same formats, so a session over
// many pods prints like a session over one.
//
// A map's aggregation is read from the program (Kinds): the text output
// does not say whether `@x: 5` is a count, a sum or a max. An average
// cannot be combined without its count, so a group's program computes its
// avg maps as stats (AvgAsStats) and the merge prints them as averages.
// Maps whose aggregation is unknown or mixed cannot be merged; they are
// left to be printed per pod.
//
// Shared: the client (debug/) and the runner both use it; it links no eBPF
// and no Kubernetes code (boundary_test.go keeps it so).
package mapmerge

import (
	"fmt"
	"sort"
	"strconv"

	"github.com/trace-debug/kubectl-trace-debug/bpf/program"
)

// Kind is a map's aggregation function.
type Kind int

// The aggregations a map can have; Unknown maps are not merged.
const (
	Unknown Kind = iota
	Count
	Sum
	Min
	Max
	Avg
	Stats
	Hist
	Lhist
)

// mergeable reports whether maps of kind k combine exactly (avg: when the
// program computed them as stats, see AvgAsStats).
func (k Kind) mergeable() bool { return k != Unknown }

var kindNames = map[string]Kind{
	"count": Count, "sum": Sum, "min": Min, "max": Max, "avg": Avg, "stats": Stats, "hist": Hist, "lhist": Lhist,
}

// KindsOf turns maps' aggregation function names ("count", "hist", ...)
// into their Kinds; any other name is Unknown.
func KindsOf(fns map[string]string) map[string]Kind {
	kinds := make(map[string]Kind, len(fns))
	for name, fn := range fns {
		kinds[name] = kindNames[fn]
	}
	return kinds
}

// Kinds reads, from a bpftrace program, the aggregation of each map it
// writes (program.Aggregations, the lexer's one reading: maps passed into
// macros included, strings and comments skipped). A map written in two
// ways, or assigned plain values, is Unknown; so is every map of a program
// that cannot be read.
func Kinds(src string) map[string]Kind {
	kinds := map[string]Kind{}
	p, err := program.Parse(src)
	if err != nil {
		return kinds
	}
	for name, how := range p.Aggregations() {
		kinds[name] = kindNames[how]
	}
	return kinds
}

// Bucket is one histogram bucket: values in [Lo, Hi), Under when it holds
// everything below Hi, Over when it holds everything from Lo on.
type Bucket struct {
	Lo, Hi      int64
	Under, Over bool
	Count       uint64
}

// Value is one map entry's value: N for count, sum, min, max and avg;
// Count and Total for stats; Buckets for hist and lhist.
type Value struct {
	N            int64
	Count, Total int64
	Buckets      []Bucket
}

// Map is one map of one dump: its entries by key ("" for a map without
// keys), in the order printed.
type Map struct {
	Name string
	// Keyed is true for a map with keys (printed @name[key]).
	Keyed   bool
	Keys    []string
	Entries map[string]*Value
	// Unreadable, when set, says why the map's values cannot be read as
	// numbers (a string, a tuple, a number past int64): it is neither
	// merged nor asserted on, and its lines stay as printed.
	Unreadable string
}

// unreadable marks the map as holding value (the text of a number, or
// shown: as printed), which this client cannot read as a number.
func (m *Map) unreadable(value, shown string) {
	if m.Unreadable != "" {
		return
	}
	if _, err := strconv.ParseUint(value, 10, 64); err == nil {
		m.Unreadable = fmt.Sprintf("%s is past the largest signed 64-bit number, which this client reads", value)
		return
	}
	m.Unreadable = fmt.Sprintf("%s is not a number", shown)
}

// Set puts v under key (keys print in the order first set).
func (m *Map) Set(key string, v Value) {
	e, _ := m.entry(key)
	*e = v
	m.Keyed = m.Keyed || key != ""
}

// entry returns the value under key, adding it when new.
func (m *Map) entry(key string) (*Value, bool) {
	if v, ok := m.Entries[key]; ok {
		return v, true
	}
	v := &Value{}
	m.Entries[key] = v
	m.Keys = append(m.Keys, key)
	return v, false
}

// Dump is what one pod printed at the end of its trace: its maps, in order,
// and the lines that were not map output.
type Dump struct {
	Maps  []*Map
	Other []string
	// Raw holds each map's lines as printed, for maps shown per pod.
	Raw map[string][]string
}

// raw records a line of the named map as printed.
func (d *Dump) raw(name, line string) {
	if d.Raw == nil {
		d.Raw = map[string][]string{}
	}
	d.Raw[name] = append(d.Raw[name], line)
}

// Find returns the named map, or nil (also for a nil dump).
func (d *Dump) Find(name string) *Map {
	if d == nil {
		return nil
	}
	for _, m := range d.Maps {
		if m.Name == name {
			return m
		}
	}
	return nil
}

// Map returns the named map, adding it when new.
func (d *Dump) Map(name string) *Map {
	for _, m := range d.Maps {
		if m.Name == name {
			return m
		}
	}
	m := &Map{Name: name, Entries: map[string]*Value{}}
	d.Maps = append(d.Maps, m)
	return m
}

// Merge combines the maps of dumps whose kind is mergeable into one dump;
// the names of the maps it could not merge are returned, for the caller to
// print per pod.
func Merge(dumps []*Dump, kinds map[string]Kind) (merged *Dump, perPod []string) {
	merged = &Dump{}
	left := map[string]bool{}
	for _, d := range dumps {
		for _, m := range d.Maps {
			k := kinds[m.Name]
			if !k.mergeable() || m.Unreadable != "" {
				if !left[m.Name] {
					left[m.Name] = true
					perPod = append(perPod, m.Name)
				}
				continue
			}
			into := merged.Map(m.Name)
			into.Keyed = into.Keyed || m.Keyed
			for _, key := range m.Keys {
				v, existed := into.entry(key)
				combine(k, v, m.Entries[key], existed)
			}
		}
	}
	for _, m := range merged.Maps {
		sortEntries(m, kinds[m.Name])
	}
	return merged, perPod
}

// combine adds src into dst as kind k says; dst is new unless existed.
func combine(k Kind, dst, src *Value, existed bool) {
	switch k {
	case Count, Sum:
		dst.N += src.N
	case Min:
		if !existed || src.N < dst.N {
			dst.N = src.N
		}
	case Max:
		if !existed || src.N > dst.N {
			dst.N = src.N
		}
	case Stats, Avg:
		dst.Count += src.Count
		dst.Total += src.Total
	case Hist, Lhist:
		dst.Buckets = addBuckets(dst.Buckets, src.Buckets)
	}
}

// addBuckets adds b's counts into a's, bucket by bucket.
func addBuckets(a, b []Bucket) []Bucket {
	for _, x := range b {
		found := false
		for i := range a {
			if a[i].Lo == x.Lo && a[i].Under == x.Under && a[i].Over == x.Over {
				a[i].Count += x.Count
				found = true
				break
			}
		}
		if !found {
			a = append(a, x)
		}
	}
	sort.Slice(a, func(i, j int) bool { return bucketLess(a[i], a[j]) })
	return a
}

func bucketLess(a, b Bucket) bool {
	switch {
	case a.Under != b.Under:
		return a.Under
	case a.Over != b.Over:
		return b.Over
	}
	return a.Lo < b.Lo
}

// sortEntries orders a merged map's entries as bpftrace prints them: by
// value for counts, sums, mins and maxes; ties, and other kinds, keep the
// order they were first printed in (bpftrace's own order for ties is its
// hash table's).
func sortEntries(m *Map, k Kind) {
	switch k {
	case Count, Sum, Min, Max:
		sort.SliceStable(m.Keys, func(i, j int) bool { return m.Entries[m.Keys[i]].N < m.Entries[m.Keys[j]].N })
	case Avg:
		sort.SliceStable(m.Keys, func(i, j int) bool { return m.Entries[m.Keys[i]].average() < m.Entries[m.Keys[j]].average() })
	}
}

// average is a stats value's average, as bpftrace computes it.
func (v *Value) average() int64 {
	if v.Count == 0 {
		return 0
	}
	return v.Total / v.Count
}

// AvgAsStats rewrites the program's avg() aggregations as stats(), which
// keep the count and total an average needs to be merged; the merge prints
// those maps as averages again. Only maps that are averages throughout are
// rewritten, in the probes and in the macros they are passed to.
func AvgAsStats(src string) string {
	kinds := Kinds(src)
	at := program.AggregationCalls(src, "avg", func(name string) bool { return kinds[name] == Avg })
	sort.Sort(sort.Reverse(sort.IntSlice(at)))
	for _, i := range at {
		src = src[:i] + "stats" + src[i+len("avg"):]
	}
	return src
}

// fill returns the buckets from the first non-empty one to the last, with
// the empty buckets between them that bpftrace prints: powers of two for
// hist, steps of the bucket width for lhist.
func fill(buckets []Bucket, k Kind) []Bucket {
	first, last := -1, -1
	var width int64 = 1
	for i, b := range buckets {
		if b.Count > 0 {
			if first < 0 {
				first = i
			}
			last = i
		}
		if k == Lhist && !b.Under && !b.Over {
			width = b.Hi - b.Lo
		}
	}
	if first < 0 {
		return nil
	}
	buckets = buckets[first : last+1]
	var out []Bucket
	for i, b := range buckets {
		out = append(out, b)
		if i+1 == len(buckets) || b.Over {
			break
		}
		next := buckets[i+1]
		for lo := b.Hi; lo < next.Lo; {
			hi := lo + width
			if k == Hist {
				hi = log2Next(lo)
			}
			if next.Over && hi > next.Lo {
				break
			}
			out = append(out, Bucket{Lo: lo, Hi: hi})
			lo = hi
		}
	}
	return out
}

// log2Next is the upper bound of hist's bucket that starts at lo.
func log2Next(lo int64) int64 {
	if lo <= 0 {
		return 1
	}
	return lo * 2
}
