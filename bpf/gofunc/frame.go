package gofunc

import "sort"

// FuncFlag bits of a Go function (the runtime's abi.FuncFlag, the same
// since Go 1.17): how its stack may be unwound.
const (
	// FuncTopFrame marks a function that is the outermost of a stack
	// (runtime.goexit, runtime.mstart, runtime.rt0_go): unwinding ends
	// there.
	FuncTopFrame = 1 << 0
	// FuncSPWrite marks a function that writes SP other than by its frame
	// (assembly that switches stacks): its frame cannot be unwound by its
	// SP delta.
	FuncSPWrite = 1 << 1
)

// FrameInfo is how a Go function uses the stack at one pc: what the
// runtime's own traceback reads from .gopclntab to unwind a frame.
type FrameInfo struct {
	// Name is the function's name.
	Name string
	// SPDelta is how far the stack pointer is below the frame's return
	// address at the pc (the pcsp table's value): the return address is
	// at SP+SPDelta, the caller's SP is 8 bytes above it (amd64).
	SPDelta int64
	// Flag is the function's FuncTopFrame and FuncSPWrite bits.
	Flag uint8
}

// FrameAt is how the function holding pc uses the stack at pc; false when
// no function holds pc or its pcsp table does not cover it.
func (in *Inlines) FrameAt(pc uint64) (FrameInfo, bool) {
	i := sort.Search(len(in.ftab), func(i int) bool { return in.text+uint64(in.ftab[i].entry) > pc }) - 1
	if i < 0 || i >= len(in.ftab)-1 || int(in.ftab[i].funcoff)+funcRecordSize > len(in.clntable) {
		return FrameInfo{}, false
	}
	fn := in.clntable[in.ftab[i].funcoff:]
	entry := in.text + uint64(in.ftab[i].entry)
	// _func: entryOff, nameOff, args, deferreturn, pcsp (at 16), ...,
	// funcID (at 40), flag (at 41).
	delta := in.pcvalue(in.order.Uint32(fn[16:]), entry, pc)
	if delta < 0 {
		return FrameInfo{}, false
	}
	return FrameInfo{Name: in.name(in.order.Uint32(fn[4:])), SPDelta: int64(delta), Flag: fn[41]}, true
}
