package cpuprofile

import (
	"encoding/binary"
	"slices"
	"testing"

	"github.com/trace-debug/kubectl-trace-debug/bpf/gofunc"
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
			[]uint64{0x1010, 0x2050, 0x3050, 0x4001}, byGo},
		{"the copy ran out: the rest by frame pointers", sample{pc: 0x1010, sp: 0x7000, stack: whole[:5*8], fp: []uint64{0x1010, 0x3050, 0x4001, 0x9999}},
			[]uint64{0x1010, 0x2050, 0x3050, 0x4001, 0x9999}, spliced},
		{"not Go: frame pointers", sample{pc: 0x8000, sp: 0x7000, stack: whole, fp: []uint64{0x8000, 0x8100}},
			[]uint64{0x8000, 0x8100}, byFramePointers},
		{"a stack switch stops the Go walk", sample{pc: 0x1010, sp: 0x7000, stack: stackOf(0x5001), fp: []uint64{0x1010, 0x5001, 0x3050, 0x4001}},
			[]uint64{0x1010, 0x5001, 0x3050, 0x4001}, spliced},
		{"nothing in common: the longer walk", sample{pc: 0x1010, sp: 0x7000, stack: stackOf(0x2050), fp: []uint64{0x1010, 0x6000, 0x6100}},
			[]uint64{0x1010, 0x6000, 0x6100}, byFramePointers},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, how := userStack(funcs, c.s)
			if !slices.Equal(got, c.want) || how != c.how {
				t.Fatalf("got %#x (%d), want %#x (%d)", got, how, c.want, c.how)
			}
		})
	}
	if got, how := userStack(nil, sample{pc: 1, fp: []uint64{1, 2}}); !slices.Equal(got, []uint64{1, 2}) || how != byFramePointers {
		t.Fatalf("a process not read: %#x (%d), want its frame-pointer walk", got, how)
	}
}
