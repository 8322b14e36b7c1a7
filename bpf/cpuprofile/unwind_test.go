package cpuprofile

import (
	"encoding/binary"
	"fmt"
	"slices"
	"testing"

	"github.com/trace-debug/kubectl-trace-debug/bpf/cfi"
	"github.com/trace-debug/kubectl-trace-debug/bpf/gofunc"
	"github.com/trace-debug/kubectl-trace-debug/bpf/symbols"
)

// funcTable is a fake process's Go functions: [start, end) with an SP
// delta and flags.
type funcTable []struct {
	start, end uint64
	delta      int64
	flag       uint8
}

func (t funcTable) GoFrame(a uint64) (gofunc.FrameInfo, bool) {
	for _, f := range t {
		if a >= f.start && a < f.end {
			return gofunc.FrameInfo{SPDelta: f.delta, Flag: f.flag}, true
		}
	}
	return gofunc.FrameInfo{}, false
}

// FrameRule: funcTable's processes have no native code; code in no file.
func (t funcTable) FrameRule(a uint64) (cfi.Rule, error) {
	return cfi.Rule{}, fmt.Errorf("%w at %#x", symbols.ErrUnmapped, a)
}

// mixed is a fake process with Go functions and native ones: rules by
// [start, end); a native range without a rule is a file without CFI.
type mixed struct {
	funcTable
	native []struct {
		start, end uint64
		rule       *cfi.Rule
	}
}

func (m mixed) FrameRule(a uint64) (cfi.Rule, error) {
	for _, n := range m.native {
		if a >= n.start && a < n.end {
			if n.rule == nil {
				return cfi.Rule{}, fmt.Errorf("%w in /usr/lib/libnocfi.so", cfi.ErrNoCFI)
			}
			return *n.rule, nil
		}
	}
	return m.funcTable.FrameRule(a)
}

// stackOf lays words out from sp up.
func stackOf(words ...uint64) []byte {
	b := make([]byte, 8*len(words))
	for i, w := range words {
		binary.LittleEndian.PutUint64(b[8*i:], w)
	}
	return b
}

func TestUserStack(t *testing.T) {
	// leaf (frameless) at 0x1000, caller (frame of 0x18 after its return
	// address) at 0x2000, main at 0x3000 (frame 0x8), goexit at 0x4000.
	funcs := funcTable{
		{0x1000, 0x1100, 0, 0},
		{0x2000, 0x2100, 0x18, 0},
		{0x3000, 0x3100, 0x8, 0},
		{0x4000, 0x4100, 0, gofunc.FuncTopFrame},
		{0x5000, 0x5100, 0, gofunc.FuncSPWrite},
	}
	// The leaf's return address at sp; the caller's frame (0x18) then its
	// return address; main's (0x8) then goexit's pc + 1.
	whole := stackOf(0x2050, 0xa, 0xb, 0xc, 0x3050, 0xd, 0x4001)
	for _, c := range []struct {
		name string
		s    sample
		want []uint64
		how  unwound
	}{
		{"a frameless leaf keeps its caller", sample{pc: 0x1010, sp: 0x7000, stack: whole, fp: []uint64{0x1010, 0x3050, 0x4001}},
			[]uint64{0x1010, 0x2050, 0x3050, 0x4001}, byTables},
		{"the copy ran out: the rest by frame pointers", sample{pc: 0x1010, sp: 0x7000, stack: whole[:5*8], fp: []uint64{0x1010, 0x3050, 0x4001, 0x9999}},
			[]uint64{0x1010, 0x2050, 0x3050, 0x4001, 0x9999}, spliced},
		{"not Go: frame pointers", sample{pc: 0x8000, sp: 0x7000, stack: whole, fp: []uint64{0x8000, 0x8100}},
			[]uint64{0x8000, 0x8100}, byFramePointers},
		{"a stack switch stops the Go walk", sample{pc: 0x1010, sp: 0x7000, stack: stackOf(0x5001), fp: []uint64{0x1010, 0x5001, 0x3050, 0x4001}},
			[]uint64{0x1010, 0x5001, 0x3050, 0x4001}, spliced},
		{"nothing in common: the longer walk", sample{pc: 0x1010, sp: 0x7000, stack: stackOf(0x2050), fp: []uint64{0x1010, 0x6000, 0x6100}},
			[]uint64{0x1010, 0x6000, 0x6100}, byFramePointers},
		{"a Go stack switch with nothing in common, rbp untouched: still the longer walk (not the kernel's walk glued on: that was 5 points off Go's own profile)",
			sample{pc: 0x1010, sp: 0x7000, bp: 0xb000, stack: stackOf(0x5001), fp: []uint64{0x1010, 0x6000, 0x6100, 0x6200}},
			[]uint64{0x1010, 0x6000, 0x6100, 0x6200}, byFramePointers},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, how, _ := userStack(funcs, c.s)
			if !slices.Equal(got, c.want) || how != c.how {
				t.Fatalf("got %#x (%d), want %#x (%d)", got, how, c.want, c.how)
			}
		})
	}
	if got, how, _ := userStack(nil, sample{pc: 1, fp: []uint64{1, 2}}); !slices.Equal(got, []uint64{1, 2}) || how != byFramePointers {
		t.Fatalf("a process not read: %#x (%d), want its frame-pointer walk", got, how)
	}
}

// Native code is unwound by its call-frame rules, frame by frame; where
// they fail, the walk stops and says why, unless frame pointers are known
// to carry it on (back at the sample's own rbp, across a Go stack switch).
func TestUserStackNative(t *testing.T) {
	leaf := cfi.Rule{CFAOffset: 8, RAOffset: -8}                                  // frameless: its return address at rsp
	caller := cfi.Rule{CFAOffset: 16, RAOffset: -8, BPSaved: true, BPOffset: -16} // pushed rbp, then its return address
	byBP := cfi.Rule{CFAFromBP: true, CFAOffset: 16, RAOffset: -8, BPSaved: true, BPOffset: -16}
	top := cfi.Rule{Outermost: true}
	p := mixed{funcTable: funcTable{
		{0x3000, 0x3100, 0x8, 0},
		{0x4000, 0x4100, 0, gofunc.FuncTopFrame},
		{0x5000, 0x5100, 0, gofunc.FuncSPWrite}, // asmcgocall
	}}
	p.native = append(p.native, struct {
		start, end uint64
		rule       *cfi.Rule
	}{0x8000, 0x8100, &leaf}, struct {
		start, end uint64
		rule       *cfi.Rule
	}{0x8100, 0x8200, &caller}, struct {
		start, end uint64
		rule       *cfi.Rule
	}{0x8200, 0x8300, &top}, struct {
		start, end uint64
		rule       *cfi.Rule
	}{0x9000, 0x9100, nil}, struct {
		start, end uint64
		rule       *cfi.Rule
	}{0xa000, 0xa100, &byBP})
	// leaf's return address into caller (0x8150); caller's saved rbp and
	// its return address into the outermost function (0x8250).
	native := stackOf(0x8150, 0xbbbb, 0x8250)
	for _, c := range []struct {
		name string
		s    sample
		want []uint64
		how  unwound
		stop string
	}{
		{"frameless native code keeps its callers, to the outermost", sample{pc: 0x8010, sp: 0x7000, bp: 0xdead, stack: native, fp: []uint64{0x8010, 0x1234}},
			[]uint64{0x8010, 0x8150, 0x8250}, byTables, ""},
		{"a caller without CFI: stop there, say why", sample{pc: 0x8010, sp: 0x7000, stack: stackOf(0x9050), fp: []uint64{0x8010, 0x9050, 0x1234}},
			[]uint64{0x8010, 0x9050}, stopped, "no call-frame information in /usr/lib/libnocfi.so"},
		{"the copy ends in native code: stop, not frame pointers", sample{pc: 0x8010, sp: 0x7000, stack: stackOf(0x8150), fp: []uint64{0x8010, 0x8150, 0x1234}},
			[]uint64{0x8010, 0x8150}, stopped, "the copied stack ended"},
		{"C under cgo: back at the sample's rbp, the kernel's walk from it is the rest", sample{pc: 0x8010, sp: 0x7000, bp: 0xb000, stack: stackOf(0x5001), fp: []uint64{0x8010, 0x3050, 0x4001}},
			[]uint64{0x8010, 0x5001, 0x3050, 0x4001}, spliced, ""},
		{"a CFA from rbp above a Go frame, whose rbp is not known: stop", sample{pc: 0x3010, sp: 0x7000, stack: stackOf(0, 0xa050), fp: []uint64{0x3010}},
			[]uint64{0x3010, 0xa050}, stopped, "its frame is found from rbp, which a Go frame below it keeps"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, how, stop := userStack(p, c.s)
			if !slices.Equal(got, c.want) || how != c.how || stop != c.stop {
				t.Fatalf("got %#x (%d, %q), want %#x (%d, %q)", got, how, stop, c.want, c.how, c.stop)
			}
		})
	}
}
