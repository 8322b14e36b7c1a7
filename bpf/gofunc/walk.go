package gofunc

// FrameFinder tells how the Go function at a process's address uses the
// stack (symbols.Process.GoFrame): what Walk reads a process through.
type FrameFinder interface {
	GoFrame(addr uint64) (FrameInfo, bool)
}

// Walk unwinds a Go stack the runtime's way, from pc and sp, reading the
// stack's words with read: each frame's return address is at SP plus its
// function's SP delta at its pc (a return address's call instruction, for
// the frames above the first), so a function without a frame of its own
// keeps its caller. It returns the pcs, innermost first (pc, then return
// addresses), at most max; whole says it reached the stack's top frame
// (runtime.goexit, runtime.mstart), else it stopped where it could go no
// further: code that is not Go, a function that switches stacks, a word it
// could not read. The CPU profile's samples and the goroutines' stacks are
// unwound by it alike.
func Walk(funcs FrameFinder, pc, sp uint64, read func(addr uint64) (uint64, bool), max int) (pcs []uint64, whole bool) {
	pcs = []uint64{pc}
	for len(pcs) < max {
		at := pc
		if len(pcs) > 1 {
			at-- // a return address: the call is the instruction before it
		}
		f, ok := funcs.GoFrame(at)
		switch {
		case !ok:
			return pcs, false // not Go
		case f.Flag&FuncTopFrame != 0:
			return pcs, true
		case f.Flag&FuncSPWrite != 0:
			return pcs, false // a stack switch: its SP delta says nothing of its caller
		}
		slot := sp + uint64(f.SPDelta)
		ret, ok := read(slot)
		if !ok || ret == 0 {
			return pcs, false
		}
		pcs, pc, sp = append(pcs, ret), ret, slot+8
	}
	return pcs, false
}
