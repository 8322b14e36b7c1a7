package goproc

import (
	"debug/elf"
	"debug/gosym"
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/arch/x86/x86asm"
)

// ErrNoMemProfile means the process keeps no memory profile: the linker
// turned it off (runtime.disableMemoryProfiling: nothing in the binary can
// read the profile, so MemProfileRate is 0 from the start) or the program
// set runtime.MemProfileRate to 0. It wraps ErrUnsupported.
var ErrNoMemProfile = fmt.Errorf("%w: no memory profile", ErrUnsupported)

// heapGlobals are where a process's runtime keeps its memory profile.
type heapGlobals struct {
	// mbuckets is runtime.mbuckets (the first of all the profile's
	// buckets), found in runtime.mProf_FlushLocked; rate is
	// runtime.MemProfileRate and disabled runtime.disableMemoryProfiling,
	// both found in runtime.schedinit (if disableMemoryProfiling {
	// MemProfileRate = 0 }).
	mbuckets, rate, disabled uint64
	err                      error
}

// findHeapGlobals finds them in f's instructions (addresses before bias).
func findHeapGlobals(f *elf.File, lines *gosym.Table) heapGlobals {
	var h heapGlobals
	var err error
	if h.mbuckets, err = globalIn(f, lines, "runtime.mProf_FlushLocked", firstLoaded); err != nil {
		h.err = fmt.Errorf("find runtime.mbuckets: %w", err)
		return h
	}
	insts, err := decode(f, lines, "runtime.schedinit")
	if err != nil {
		h.err = fmt.Errorf("find runtime.MemProfileRate: %w", err)
		return h
	}
	for i, in := range insts {
		cmp, ok := ripTarget(in)
		if in.Op != x86asm.CMP || !ok || in.MemBytes != 1 || !isImm(in.Args[1], 0) {
			continue
		}
		for _, next := range insts[i+1 : min(i+3, len(insts))] { // the jump, then the store
			if store, ok := ripTarget(next); ok && next.Op == x86asm.MOV && next.MemBytes == 8 && isImm(next.Args[1], 0) {
				h.disabled, h.rate = cmp, store
				return h
			}
		}
	}
	h.err = errors.New("find runtime.MemProfileRate: runtime.schedinit does not clear it as expected")
	return h
}

// firstLoaded picks the first address loaded.
func firstLoaded(loads []uint64) (uint64, bool) {
	if len(loads) == 0 {
		return 0, false
	}
	return loads[0], true
}

// isImm says whether arg is the immediate v.
func isImm(arg x86asm.Arg, v int64) bool {
	imm, ok := arg.(x86asm.Imm)
	return ok && int64(imm) == v
}

// MemRecord is one record of a process's memory profile: the stack that
// allocated (return addresses, innermost first, as the runtime recorded
// them), and the objects and bytes it allocated and freed, sampled (one
// sample per MemProfileRate bytes on average: see Heap.Rate), as of the
// last garbage collection.
type MemRecord struct {
	Stack                     []uint64
	AllocObjects, FreeObjects int64
	AllocBytes, FreeBytes     int64
	// RecentObjects and RecentBytes are the allocations recorded since
	// (the runtime's future cycles, published two collections after they
	// are made): AllocObjects plus RecentObjects is every allocation the
	// stack made so far, what --alloc's two readings difference.
	RecentObjects, RecentBytes int64
}

// MemProfile is one reading of a process's memory profile.
type MemProfile struct {
	Records []MemRecord
	// Rate is runtime.MemProfileRate: the average bytes between samples.
	Rate int64
	// Dropped counts buckets that could not be read whole (the list is
	// only ever added to, at its head, so one read mid-change is lost).
	Dropped int
}

// maxBuckets bounds the buckets read: a process's profile has a bucket a
// distinct allocating stack and size.
const maxBuckets = 1 << 20

// MemProfile reads the process's memory profile from outside, as
// runtime.MemProfile would give it (nothing written, nothing stopped): each
// memory bucket's active cycle, the one published at the last garbage
// collection; before any collection, every cycle so far. ErrNoMemProfile
// when it keeps none.
func (p *Process) MemProfile() (MemProfile, error) {
	h := p.heap
	if h.err != nil {
		return MemProfile{}, fmt.Errorf("%w: %w", ErrUnsupported, h.err)
	}
	l := p.layout
	rate, ok1 := p.word(h.rate)
	disabled, ok2 := p.read(h.disabled, 1)
	head, ok3 := p.word(h.mbuckets)
	if !ok1 || !ok2 || !ok3 {
		return MemProfile{}, fmt.Errorf("read the memory profile's globals of process %d", p.PID)
	}
	if int64(rate) == 0 {
		why := "the program set runtime.MemProfileRate to 0"
		if disabled[0] != 0 {
			why = "the linker turned it off: nothing in the binary can read the profile (it links neither runtime/pprof nor anything that calls runtime.MemProfile)"
		}
		return MemProfile{}, fmt.Errorf("%w: %s", ErrNoMemProfile, why)
	}
	mp := MemProfile{Rate: int64(rate)}
	allZero := true
	type read struct {
		rec    MemRecord
		future []MemRecord // the future cycles, for a profile no collection has published yet
	}
	var all []read
	for b, n := head, 0; b != 0 && n < maxBuckets; n++ {
		hdr, ok := p.read(b, int(l.BucketSize))
		if !ok {
			mp.Dropped++
			break
		}
		le := binary.LittleEndian
		next := le.Uint64(hdr[l.BucketAllNext:])
		nstk := le.Uint64(hdr[l.BucketNstk:])
		if le.Uint64(hdr[l.BucketType:]) != 1 || nstk > 1024 { // memProfile; anything else is not one of its buckets
			mp.Dropped++
			b = next
			continue
		}
		size := int64(le.Uint64(hdr[l.BucketObjSize:]))
		body, ok := p.read(b+uint64(l.BucketSize), int(nstk)*8+int(l.RecordFuture+3*l.CycleSize))
		if !ok {
			mp.Dropped++
			b = next
			continue
		}
		var r read
		for i := uint64(0); i < nstk; i++ {
			r.rec.Stack = append(r.rec.Stack, le.Uint64(body[8*i:]))
		}
		rec := body[8*nstk:]
		r.rec = p.cycle(rec, 0, size, r.rec.Stack)
		for c := int64(0); c < 3; c++ {
			r.future = append(r.future, p.cycle(rec, l.RecordFuture+c*l.CycleSize, size, nil))
		}
		if r.rec.AllocObjects != 0 || r.rec.FreeObjects != 0 {
			allZero = false
		}
		all = append(all, r)
		b = next
	}
	for _, r := range all {
		rec := r.rec
		for _, f := range r.future {
			if allZero { // no collection yet: every cycle so far, as the runtime does
				rec.AllocObjects += f.AllocObjects
				rec.FreeObjects += f.FreeObjects
				rec.AllocBytes += f.AllocBytes
				rec.FreeBytes += f.FreeBytes
				continue
			}
			rec.RecentObjects += f.AllocObjects
			rec.RecentBytes += f.AllocBytes
		}
		if rec.AllocObjects != 0 || rec.FreeObjects != 0 || rec.RecentObjects != 0 {
			mp.Records = append(mp.Records, rec)
		}
	}
	return mp, nil
}

// cycle reads the runtime.memRecordCycle at off in a bucket's record
// (its objects of size bytes each where the release keeps no bytes).
func (p *Process) cycle(rec []byte, off, size int64, stack []uint64) MemRecord {
	l, le := p.layout, binary.LittleEndian
	c := rec[off:]
	r := MemRecord{Stack: stack, AllocObjects: int64(le.Uint64(c[l.CycleAllocs:])), FreeObjects: int64(le.Uint64(c[l.CycleFrees:]))}
	if l.CycleAllocBytes >= 0 {
		r.AllocBytes, r.FreeBytes = int64(le.Uint64(c[l.CycleAllocBytes:])), int64(le.Uint64(c[l.CycleFreeBytes:]))
	} else {
		r.AllocBytes, r.FreeBytes = r.AllocObjects*size, r.FreeObjects*size
	}
	return r
}
