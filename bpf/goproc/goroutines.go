package goproc

import (
	"encoding/binary"
	"strings"

	"github.com/trace-debug/kubectl-trace-debug/bpf/gofunc"
)

// The runtime's goroutine states (g.atomicstatus, runtime2.go): the same
// in every supported release, but for the two Go 1.26 added.
const (
	gIdle      = 0
	gRunnable  = 1
	gRunning   = 2
	gSyscall   = 3
	gWaiting   = 4
	gDead      = 6
	gCopystack = 8
	gPreempted = 9
	gLeaked    = 10 // Go 1.26: a waiting goroutine the GC found leaked
	gDeadExtra = 11 // Go 1.26: a dead goroutine of an extra M (cgo callbacks)
	gScan      = 0x1000
)

// maxFrames bounds a goroutine's stack, as the runtime's tracebacks do.
const maxFrames = 100

// maxStackRead is how much of a goroutine's stack is read at once.
const maxStackRead = 16 << 10

// Goroutine is one goroutine as read.
type Goroutine struct {
	// ID is its goroutine ID.
	ID uint64
	// State is "running", "runnable", "syscall", or why it waits as the
	// runtime says it ("chan receive", "sync.Mutex.Lock", "IO wait"), or
	// "waiting" when the reason is not known.
	State string
	// WaitSince is when it began to wait on the runtime's clock
	// (CLOCK_MONOTONIC, nanoseconds), as the runtime records it (at a
	// garbage collection that found it waiting); 0 when not recorded.
	WaitSince int64
	// Stack is where it is: pcs innermost first (where it resumes, then
	// return addresses); none for a running goroutine, whose stack moves
	// under the reader. Whole says it was unwound to its top frame.
	Stack []uint64
	Whole bool
	// CreatedBy is the pc of the go statement that made it.
	CreatedBy uint64
}

// Reading is one reading of a process's goroutines.
type Reading struct {
	// Goroutines are its goroutines, the runtime's own left out as its
	// goroutine profile leaves them out.
	Goroutines []Goroutine
	// Dropped are goroutines that moved while they were read (their
	// status or stack changed, their stack was being copied): left out,
	// and counted.
	Dropped int
}

// Goroutines reads every goroutine of the process, without stopping it:
// each is read twice, and one whose status or stack pointer changed
// between the readings is dropped (and counted).
func (p *Process) Goroutines() (Reading, error) {
	var r Reading
	ptr, ok1 := p.word(p.allgs)
	n, ok2 := p.word(p.allgs + 8)
	if !ok1 || !ok2 || n > 1<<24 {
		return r, errorf("read runtime.allgs at %#x", p.allgs)
	}
	list, ok := p.read(ptr, int(n)*8)
	if !ok {
		return r, errorf("read the %d goroutine pointers at %#x", n, ptr)
	}
	for i := uint64(0); i < n; i++ {
		g := binary.LittleEndian.Uint64(list[i*8:])
		gr, keep, moved := p.goroutine(g)
		switch {
		case moved:
			r.Dropped++
		case keep:
			r.Goroutines = append(r.Goroutines, gr)
		}
	}
	return r, nil
}

// goroutine reads the goroutine at g: keep says it is one to report (not
// dead, not the runtime's own), moved that it changed while read.
func (p *Process) goroutine(g uint64) (gr Goroutine, keep, moved bool) {
	l := p.layout
	raw, ok := p.read(g, int(l.Size))
	if !ok {
		return gr, false, true
	}
	u64 := func(b []byte, off int64) uint64 { return binary.LittleEndian.Uint64(b[off:]) }
	status := binary.LittleEndian.Uint32(raw[l.Status:]) &^ gScan
	switch status {
	case gIdle, gDead, gDeadExtra:
		return gr, false, false
	case gCopystack:
		return gr, false, true
	}
	if p.system(u64(raw, l.StartPC)) {
		return gr, false, false
	}
	gr = Goroutine{ID: u64(raw, l.GoID), CreatedBy: u64(raw, l.GoPC), WaitSince: int64(u64(raw, l.WaitSince))}
	lo, hi := u64(raw, l.StackLo), u64(raw, l.StackHi)
	pc, sp := u64(raw, l.SchedPC), u64(raw, l.SchedSP)
	switch status {
	case gRunning:
		gr.State = "running"
	case gRunnable, gPreempted:
		gr.State = "runnable"
	case gSyscall:
		gr.State, pc, sp = "syscall", u64(raw, l.SyscallPC), u64(raw, l.SyscallSP)
	case gWaiting, gLeaked:
		gr.State = p.waitReason(raw[l.WaitReason])
		if gr.State == "" {
			gr.State = "waiting"
		}
		if status == gLeaked {
			gr.State += " (leaked)"
		}
	default:
		return gr, false, true
	}
	if status != gRunning {
		if sp < lo || sp >= hi {
			return gr, false, true
		}
		// The stack from sp up, in one read (a goroutine's is small); a
		// word beyond it is read on its own.
		top, _ := p.read(sp, int(min(hi-sp, maxStackRead)))
		read := func(addr uint64) (uint64, bool) {
			switch {
			case addr < lo || addr+8 > hi:
				return 0, false
			case addr >= sp && addr+8 <= sp+uint64(len(top)):
				return binary.LittleEndian.Uint64(top[addr-sp:]), true
			}
			return p.word(addr)
		}
		gr.Stack, gr.Whole = gofunc.Walk(p.Names, pc, sp, read, maxFrames)
	}
	// Read again: a goroutine that ran meanwhile is dropped.
	again, ok := p.read(g, int(l.Size))
	if !ok || binary.LittleEndian.Uint32(again[l.Status:])&^gScan != status || u64(again, l.SchedSP) != u64(raw, l.SchedSP) {
		return gr, false, true
	}
	return gr, true, false
}

// system reports whether a goroutine started at startpc is the runtime's
// own, which its goroutine profile leaves out (runtime.isSystemGoroutine:
// its function is in package runtime, runtime.main aside).
func (p *Process) system(startpc uint64) bool {
	name := p.Names.Name(startpc)
	return strings.HasPrefix(name, "runtime.") && name != "runtime.main"
}
