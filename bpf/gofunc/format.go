package gofunc

import (
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"time"

	"github.com/trace-debug/kubectl-trace-debug/bpf/mapmerge"
	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
)

// Results renders a call's results from its registers, as their Go types
// say (from DWARF). Without types (a stripped binary) it shows the first
// result register. errored reports a non-nil error as the last result.
func (c Call) Results() (results []string, errored bool) {
	types := c.Func.Results
	if types == nil {
		return []string{"0x" + strconv.FormatUint(c.Regs[0], 16)}, false
	}
	reg := 0
	take := func(n int) ([]uint64, bool) {
		if reg+n > len(c.Regs) {
			return nil, false
		}
		r := c.Regs[reg : reg+n]
		reg += n
		return r, true
	}
	for i, t := range types {
		v, ok := "?", true
		var r []uint64
		switch {
		case t == "string":
			if r, ok = take(2); ok {
				v = c.text(i == 0 && reg == 2, r[1])
			}
		case t == "error" || strings.HasPrefix(t, "interface"):
			if r, ok = take(2); ok {
				v = "nil"
				if r[0] != 0 {
					v = "non-nil"
					errored = errored || (t == "error" && i == len(types)-1)
				}
			}
		case strings.HasPrefix(t, "[]"):
			if r, ok = take(3); ok {
				v = fmt.Sprintf("%s(len %d)", t, r[1])
			}
		case t == "bool":
			if r, ok = take(1); ok {
				v = strconv.FormatBool(r[0]&0xff != 0)
			}
		case t == "int" || t == "int64" || t == "int32" || t == "int16" || t == "int8":
			if r, ok = take(1); ok {
				v = strconv.FormatInt(signExtend(r[0], t), 10)
			}
		case strings.HasPrefix(t, "uint"):
			if r, ok = take(1); ok {
				v = strconv.FormatUint(r[0], 10)
			}
		case strings.HasPrefix(t, "*") || t == "unsafe.Pointer" || strings.HasPrefix(t, "map[") || strings.HasPrefix(t, "chan ") || strings.HasPrefix(t, "func("):
			if r, ok = take(1); ok {
				v = "0x" + strconv.FormatUint(r[0], 16)
			}
		default: // floats, structs, arrays: not decoded, and later results are unknown
			ok = false
		}
		results = append(results, v)
		if !ok {
			for range types[i+1:] {
				results = append(results, "?")
			}
			break
		}
	}
	return results, errored
}

// text renders a string result: its bytes when they were captured (the first
// result), else its length.
func (c Call) text(captured bool, n uint64) string {
	if !captured {
		return fmt.Sprintf("string(len %d)", n)
	}
	b := c.Str[:min(n, uint64(len(c.Str)))]
	s := strconv.Quote(string(b))
	if n > uint64(len(c.Str)) {
		s += "..."
	}
	return s
}

func signExtend(v uint64, t string) int64 {
	switch t {
	case "int32":
		return int64(int32(v))
	case "int16":
		return int64(int16(v))
	case "int8":
		return int64(int8(v))
	}
	return int64(v)
}

// Summary aggregates calls per function: count, errors and a latency
// histogram in power-of-two microsecond buckets.
type Summary struct {
	order []string
	stats map[string]*FuncStats
}

// FuncStats are one function's totals.
type FuncStats struct {
	Calls, Errors uint64
	// ErrorsSeen: a failed call can be told (Func.ErrorsSeen); Errors
	// counts nothing otherwise, and @errors leaves the function out.
	ErrorsSeen bool
	// Latency[i] counts calls taking [2^(i-1), 2^i) µs; Latency[0] under 1 µs.
	Latency [40]uint64
}

// Add counts one call.
func (s *Summary) Add(c Call, errored bool) {
	if s.stats == nil {
		s.stats = map[string]*FuncStats{}
	}
	st := s.stats[c.Func.Name]
	if st == nil {
		st = &FuncStats{}
		st.ErrorsSeen, _ = c.Func.ErrorsSeen()
		s.stats[c.Func.Name] = st
		s.order = append(s.order, c.Func.Name)
	}
	st.Calls++
	if errored {
		st.Errors++
	}
	st.Latency[min(bits.Len64(uint64(c.Duration/time.Microsecond)), len(st.Latency)-1)]++
}

// Funcs returns the functions seen, in order of first call, with their stats.
func (s *Summary) Funcs() ([]string, map[string]*FuncStats) { return s.order, s.stats }

// Bucket is one latency histogram bucket, Min to Max microseconds (both
// included: [Min, Max+1)), in the shape of bpftrace's JSON histograms.
type Bucket struct {
	Min   uint64 `json:"min"`
	Max   uint64 `json:"max"`
	Count uint64 `json:"count"`
}

// Buckets returns the non-empty buckets of a latency histogram.
func (st *FuncStats) Buckets() []Bucket {
	var out []Bucket
	for i, n := range st.Latency {
		if n == 0 {
			continue
		}
		lo, hi := uint64(0), uint64(1)
		if i > 0 {
			lo, hi = 1<<(i-1), 1<<i
		}
		out = append(out, Bucket{lo, hi - 1, n})
	}
	return out
}

// Text renders the summary as bpftrace prints its maps: @calls, @errors
// and the @latency_us histogram, each keyed by function (@errors only by
// the functions whose errors can be seen).
func (s *Summary) Text() string {
	d := &mapmerge.Dump{}
	calls, errs, lat := d.Map("@calls"), d.Map("@errors"), d.Map("@latency_us")
	for _, name := range s.order {
		st := s.stats[name]
		calls.Set(name, mapmerge.Value{N: int64(st.Calls)})
		if st.ErrorsSeen {
			errs.Set(name, mapmerge.Value{N: int64(st.Errors)})
		}
		var buckets []mapmerge.Bucket
		for _, bk := range st.Buckets() {
			buckets = append(buckets, mapmerge.Bucket{Lo: int64(bk.Min), Hi: int64(bk.Max) + 1, Count: bk.Count})
		}
		lat.Set(name, mapmerge.Value{Buckets: buckets})
	}
	var b strings.Builder
	b.WriteString("\n")
	_ = mapmerge.WriteText(&b, d, mapmerge.KindsOf(protocol.NativeMaps))
	return b.String()
}
