package cpuprofile

import (
	"encoding/binary"
	"errors"
	"slices"

	"github.com/trace-debug/kubectl-trace-debug/bpf/cfi"
	"github.com/trace-debug/kubectl-trace-debug/bpf/gofunc"
	"github.com/trace-debug/kubectl-trace-debug/bpf/symbols"
)

// maxDepth bounds a user stack, as the kernel's stack map does.
const maxDepth = 127

// unwound says how a sample's user stack was walked.
type unwound int

const (
	// byTables: by the Go runtime's pcsp tables and the native code's
	// call-frame information, to the stack's top frame (or maxDepth).
	byTables unwound = iota
	// spliced: by the tables as far as they went (a stack switch of the
	// Go runtime's, the copied stack ran out in Go code), then by frame
	// pointers.
	spliced
	// byFramePointers: by frame pointers alone (a process not read; code
	// in no file, which run-time compilers keep frame pointers in).
	byFramePointers
	// stopped: the walk stopped short where nothing could carry it on
	// truthfully (see sample's stop); the stack ends in a frame saying so.
	stopped
)

// sample is what the sampler sends of one sample: the user registers and
// a copy of the user stack from sp up, beside the kernel's frame-pointer
// walk of it (fp, innermost first).
type sample struct {
	pc, sp, bp uint64
	stack      []byte
	fp         []uint64
}

// frameReader is how one process's code is unwound (symbols.Process): a
// Go function by its pcsp table, native code by its file's call-frame
// information.
type frameReader interface {
	gofunc.FrameFinder
	FrameRule(addr uint64) (cfi.Rule, error)
}

// userStack is s's user stack, innermost first (the sampled pc, then
// return addresses), how it was walked and, for a walk that stopped short,
// why. Frame by frame: a Go function's caller is found the runtime's way
// (its return address at SP plus the pcsp table's SP delta, so a function
// without a frame of its own keeps its caller, which a frame-pointer walk
// skips); native code's by its file's call-frame information (so code
// built without frame pointers keeps its callers too). Frame pointers
// carry the walk on only where they are known to be right: across the Go
// runtime's stack switches (from the first frame both walks hold, else the
// longer walk, as Go code keeps frame pointers; under cgo, from the
// sample's own frame pointer when the C code put it back), and for code in
// no file. Elsewhere the walk stops, and says why, rather than
// guess a caller.
func userStack(p frameReader, s sample) ([]uint64, unwound, string) {
	if p == nil {
		return s.fp, byFramePointers, ""
	}
	w := walk(p, s)
	switch {
	case w.whole:
		return w.pcs, byTables, ""
	case w.jit && len(w.pcs) == 1, w.inGo && len(w.pcs) == 1:
		return s.fp, byFramePointers, ""
	case w.inGo:
		if pcs, ok := spliceAt(w.pcs, s.fp); ok {
			return pcs, spliced, ""
		}
		if w.native { // native code below the switch (C under cgo)
			if w.bpIsSamples && len(s.fp) > 1 { // back at the frame pointer the sample began with: the kernel's walk from it is the rest
				return append(slices.Clip(w.pcs), s.fp[1:]...), spliced, ""
			}
			return w.pcs, stopped, w.stop // the kernel's walk may have gone astray in it
		}
		if len(s.fp) > len(w.pcs) { // Go code keeps frame pointers: the longer walk
			return s.fp, byFramePointers, ""
		}
		return w.pcs, spliced, ""
	}
	return w.pcs, stopped, w.stop
}

// walked is one walk of a sample's stack by the tables.
type walked struct {
	pcs   []uint64
	whole bool // reached the stack's top frame
	// Why it stopped: in Go code (a stack switch, the copy's end), which
	// frame pointers may carry on; in code in no file; else stop.
	inGo, jit bool
	stop      string
	// bpIsSamples says the frame pointer where it stopped is the one the
	// sample began with (native frames that did not change it, or put it
	// back); native says native frames were walked.
	bpIsSamples, native bool
}

// walk unwinds s's stack by the tables, over the copied stack.
func walk(p frameReader, s sample) walked {
	read := func(addr uint64) (uint64, bool) {
		if addr < s.sp || addr-s.sp+8 > uint64(len(s.stack)) {
			return 0, false // beyond the copy
		}
		return binary.LittleEndian.Uint64(s.stack[addr-s.sp:]), true
	}
	regs := cfi.Regs{PC: s.pc, SP: s.sp, BP: s.bp}
	bpKnown := true
	w := walked{pcs: []uint64{s.pc}}
	for len(w.pcs) < maxDepth {
		at := regs.PC
		if len(w.pcs) > 1 {
			at-- // a return address: the call is the instruction before it
		}
		if f, ok := p.GoFrame(at); ok {
			switch {
			case f.Flag&gofunc.FuncTopFrame != 0:
				w.whole = true
				return w
			case f.Flag&gofunc.FuncSPWrite != 0:
				w.inGo, w.stop, w.bpIsSamples = true, "a stack switch", bpKnown && regs.BP == s.bp
				return w
			}
			slot := regs.SP + uint64(f.SPDelta)
			ret, ok := read(slot)
			if !ok || ret == 0 {
				w.inGo, w.stop = true, "the copied stack ended"
				return w
			}
			if f.SPDelta > 0 { // a frame of its own: where it keeps its caller's rbp is not read here
				bpKnown = false
			}
			regs = cfi.Regs{PC: ret, SP: slot + 8, BP: regs.BP}
			w.pcs = append(w.pcs, ret)
			continue
		}
		r, err := p.FrameRule(at)
		switch {
		case err != nil:
			w.stop, w.jit = err.Error(), errors.Is(err, symbols.ErrUnmapped)
			return w
		case r.Outermost:
			w.whole = true
			return w
		case r.CFAFromBP && !bpKnown:
			w.stop = "its frame is found from rbp, which a Go frame below it keeps"
			return w
		}
		next, ok := r.Step(regs, read)
		switch {
		case !ok:
			w.stop = "the copied stack ended"
			return w
		case next.PC == 0:
			w.whole = true
			return w
		}
		if r.BPSaved {
			bpKnown = true
		}
		w.native = true
		regs = next
		w.pcs = append(w.pcs, regs.PC)
	}
	w.whole = true // as deep as a stack is kept
	return w
}

// spliceAt joins a walk that stopped short (g) with the frame-pointer walk
// (fp): g's frames, then fp's beyond the deepest frame of g that fp also
// holds (fp skips a frameless function's caller, never adds one: a frame
// of g is fp's frame j only if j is no deeper than it); false without such
// a frame.
func spliceAt(g, fp []uint64) ([]uint64, bool) {
	for i := len(g) - 1; i >= 1; i-- {
		for j := min(i, len(fp)-1); j >= 1; j-- {
			if fp[j] == g[i] {
				return append(slices.Clip(g[:i+1]), fp[j+1:]...), true
			}
		}
	}
	return nil, false
}
