package cpuprofile

import (
	"encoding/binary"
	"slices"

	"github.com/trace-debug/kubectl-trace-debug/bpf/gofunc"
)

// maxDepth bounds a user stack, as the kernel's stack map does.
const maxDepth = 127

// unwound says how a sample's user stack was walked.
type unwound int

const (
	// byGo: the Go runtime's way, from the pcsp tables, to the stack's
	// top frame.
	byGo unwound = iota
	// spliced: the Go runtime's way as far as it went (the copied stack
	// ran out, a stack switch, code that is not Go), then by frame
	// pointers from the first frame both walks hold.
	spliced
	// byFramePointers: by frame pointers alone (no Go function at the
	// sampled pc, or no walk in common).
	byFramePointers
)

// sample is what the sampler sends of one sample: the user registers and
// a copy of the user stack from sp up, beside the kernel's frame-pointer
// walk of it (fp, innermost first).
type sample struct {
	pc, sp uint64
	stack  []byte
	fp     []uint64
}

// userStack is s's user stack, innermost first (the sampled pc, then
// return addresses): unwound the Go runtime's way where the functions are
// Go (their return address found from the pcsp table's SP delta, so a
// function without a frame of its own keeps its caller, which a
// frame-pointer walk skips), by frame pointers where they are not.
func userStack(funcs gofunc.FrameFinder, s sample) ([]uint64, unwound) {
	if funcs == nil {
		return s.fp, byFramePointers
	}
	g, whole := unwindGo(funcs, s)
	switch {
	case whole:
		return g, byGo
	case len(g) <= 1:
		return s.fp, byFramePointers
	}
	return splice(g, s.fp)
}

// unwindGo walks s's stack from its pc and sp by the pcsp tables
// (gofunc.Walk), over the copied stack.
func unwindGo(funcs gofunc.FrameFinder, s sample) (pcs []uint64, whole bool) {
	read := func(addr uint64) (uint64, bool) {
		if addr < s.sp || addr-s.sp+8 > uint64(len(s.stack)) {
			return 0, false // beyond the copy
		}
		return binary.LittleEndian.Uint64(s.stack[addr-s.sp:]), true
	}
	return gofunc.Walk(funcs, s.pc, s.sp, read, maxDepth)
}

// splice joins a Go walk that stopped short (g) with the frame-pointer
// walk (fp): g's frames, then fp's beyond the deepest frame of g that fp
// also holds (fp skips a frameless function's caller, never adds one: a
// frame of g is fp's frame j only if j is no deeper than it). Without such
// a frame, the longer walk.
func splice(g, fp []uint64) ([]uint64, unwound) {
	for i := len(g) - 1; i >= 1; i-- {
		for j := min(i, len(fp)-1); j >= 1; j-- {
			if fp[j] == g[i] {
				return append(slices.Clip(g[:i+1]), fp[j+1:]...), spliced
			}
		}
	}
	if len(fp) > len(g) {
		return fp, byFramePointers
	}
	return g, spliced
}
