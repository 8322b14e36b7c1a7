package stacks

import (
	"fmt"
	"math"

	"github.com/google/pprof/profile"

	"github.com/trace-debug/kubectl-trace-debug/bpf/mapmerge"
)

// Heap marks a memory profile (--heap, --alloc): each stack's Values are
// HeapTypes' four, scaled as Go's own heap profile scales them, and its
// Count is the one shown (in-use bytes; allocated bytes for --alloc).
type Heap struct {
	// Rate is the runtime's MemProfileRate: one sample per Rate bytes
	// allocated, on average.
	Rate int64 `json:"rate"`
	// Alloc says the profile is of what was allocated during Duration (the
	// difference of two readings), its Count allocated bytes.
	Alloc bool `json:"alloc,omitempty"`
}

// HeapTypes are a memory profile's values, in the order and with the
// names of Go's own heap profile (runtime/pprof), which go tool pprof
// expects.
var HeapTypes = []*profile.ValueType{
	{Type: "alloc_objects", Unit: "count"}, {Type: "alloc_space", Unit: "bytes"},
	{Type: "inuse_objects", Unit: "count"}, {Type: "inuse_space", Unit: "bytes"},
}

// The indexes of HeapTypes in a stack's Values.
const (
	AllocObjects = iota
	AllocSpace
	InuseObjects
	InuseSpace
)

// ScaleHeapSample undoes the runtime's sampling of count objects of
// avgSize bytes on average, sampled one per rate bytes on average, as
// runtime/pprof does: each sampled object stands for 1/(1-e^(-size/rate))
// of its kind.
func ScaleHeapSample(count, avgSize, rate int64) (int64, int64) {
	if count == 0 || avgSize == 0 {
		return 0, 0
	}
	if rate <= 1 {
		return count, count * avgSize
	}
	scale := 1 / (1 - math.Exp(-float64(avgSize)/float64(rate)))
	return int64(float64(count) * scale), int64(float64(count*avgSize) * scale)
}

// HeapValues are a record's four values, scaled: allocated objects and
// bytes, in-use objects and bytes.
func HeapValues(allocObjects, allocBytes, freeObjects, freeBytes, rate int64) []int64 {
	v := make([]int64, 4)
	if allocObjects > 0 {
		v[AllocObjects], v[AllocSpace] = ScaleHeapSample(allocObjects, allocBytes/allocObjects, rate)
	}
	if inuse := allocObjects - freeObjects; inuse > 0 {
		v[InuseObjects], v[InuseSpace] = ScaleHeapSample(inuse, (allocBytes-freeBytes)/inuse, rate)
	}
	return v
}

// bytesText says n bytes in the largest unit that keeps it above 1.
func bytesText(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}

// HeapMaps are a memory profile's bytes by function, cumulative (each
// function counted once on each stack that holds it), as the maps
// --assert reads: @inuse_bytes (in use) and @alloc_bytes (allocated; over
// the window, for --alloc).
func (p *Profile) HeapMaps() *mapmerge.Dump {
	inuse, alloc := map[string]int64{}, map[string]int64{}
	for _, s := range p.Stacks {
		if len(s.Values) != len(HeapTypes) {
			continue
		}
		seen := map[string]bool{}
		for _, f := range s.Frames {
			if seen[f.Func] {
				continue
			}
			seen[f.Func] = true
			inuse[f.Func] += s.Values[InuseSpace]
			alloc[f.Func] += s.Values[AllocSpace]
		}
	}
	return mapmerge.CountMaps(map[string]map[string]int64{"@inuse_bytes": inuse, "@alloc_bytes": alloc})
}
