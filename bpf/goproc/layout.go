package goproc

import (
	"debug/dwarf"
	"debug/elf"
	"fmt"
	"strings"
)

// Layout is where the runtime keeps what the reader needs in a goroutine
// (runtime.g), as byte offsets; it differs between Go releases.
type Layout struct {
	// Size is runtime.g's size.
	Size int64
	// StackLo and StackHi bound the goroutine's stack (g.stack).
	StackLo, StackHi int64
	// SchedSP, SchedPC and SchedBP are where it stopped (g.sched).
	SchedSP, SchedPC, SchedBP int64
	// SyscallSP and SyscallPC are where it entered a system call.
	SyscallSP, SyscallPC int64
	// Status is g.atomicstatus (a uint32), GoID g.goid.
	Status, GoID int64
	// WaitSince is when it began waiting (nanotime), WaitReason why (a
	// uint8 index into runtime.waitReasonStrings).
	WaitSince, WaitReason int64
	// GoPC is the go statement that made it, StartPC its function.
	GoPC, StartPC int64

	// The memory profile's records (runtime.bucket, mprof.go): a bucket's
	// size and its fields — the next bucket of all (AllNext), its kind,
	// the size of the objects it counts, the length of the stack that
	// follows it — and, after the stack, its runtime.memRecord: the active
	// cycle at 0, the future ones at RecordFuture, each a
	// runtime.memRecordCycle of CycleSize bytes holding allocations and
	// frees, and their bytes where the release keeps them (-1: Go 1.27
	// counts objects alone, each of the bucket's size).
	BucketSize, BucketAllNext, BucketType, BucketObjSize, BucketNstk int64
	RecordFuture, CycleSize, CycleAllocs, CycleFrees                 int64
	CycleAllocBytes, CycleFreeBytes                                  int64
}

// Release is a Go version's release: go1.21 of go1.21.13 (or of
// go1.21.13 X:boringcrypto).
func Release(version string) string {
	version, _, _ = strings.Cut(version, " ")
	parts := strings.SplitN(version, ".", 3)
	if len(parts) < 2 {
		return version
	}
	minor, _, _ := strings.Cut(parts[1], "rc") // go1.27rc1
	return parts[0] + "." + minor
}

// LayoutFor is the layout of version's runtime (go1.21.13), from the
// table of supported releases.
func LayoutFor(version string) (Layout, error) {
	l, ok := layouts[Release(version)]
	if !ok {
		var known []string
		for r := range layouts {
			known = append(known, r)
		}
		return Layout{}, fmt.Errorf("%w: %s's runtime layout is not known (known: %s)", ErrUnsupported, version, strings.Join(sorted(known), ", "))
	}
	return l, nil
}

// LayoutFromDWARF reads the layout from the DWARF of the Go executable at
// path: how the table is made (gen_layouts.go) and checked.
func LayoutFromDWARF(path string) (Layout, error) {
	f, err := elf.Open(path)
	if err != nil {
		return Layout{}, err
	}
	defer f.Close()
	d, err := f.DWARF()
	if err != nil {
		return Layout{}, fmt.Errorf("read the DWARF of %s: %w", path, err)
	}
	wanted := map[string]bool{"runtime.g": true, "runtime.gobuf": true, "runtime.bucket": true, "runtime.memRecord": true, "runtime.memRecordCycle": true}
	structs := map[string]*dwarf.StructType{}
	r := d.Reader()
	for len(structs) < len(wanted) {
		e, err := r.Next()
		if err != nil || e == nil {
			break
		}
		if e.Tag != dwarf.TagStructType {
			continue
		}
		if name, _ := e.Val(dwarf.AttrName).(string); wanted[name] && structs[name] == nil {
			if t, err := d.Type(e.Offset); err == nil {
				if st, ok := t.(*dwarf.StructType); ok {
					structs[name] = st
				}
			}
		}
	}
	for name := range wanted {
		if structs[name] == nil {
			return Layout{}, fmt.Errorf("%s's DWARF lacks %s", path, name)
		}
	}
	g, buf := structs["runtime.g"], structs["runtime.gobuf"]
	maybe := func(st *dwarf.StructType, name string) int64 {
		for _, f := range st.Field {
			if f.Name == name {
				return f.ByteOffset
			}
		}
		return -1
	}
	field := func(st *dwarf.StructType, name string) int64 {
		off := maybe(st, name)
		if off < 0 {
			err = fmt.Errorf("%s has no field %s", st.StructName, name)
		}
		return off
	}
	sched := field(g, "sched")
	l := Layout{
		Size: g.ByteSize, StackLo: field(g, "stack"), SchedSP: sched + field(buf, "sp"), SchedPC: sched + field(buf, "pc"), SchedBP: sched + field(buf, "bp"),
		SyscallSP: field(g, "syscallsp"), SyscallPC: field(g, "syscallpc"), Status: field(g, "atomicstatus"), GoID: field(g, "goid"),
		WaitSince: field(g, "waitsince"), WaitReason: field(g, "waitreason"), GoPC: field(g, "gopc"), StartPC: field(g, "startpc"),
	}
	l.StackHi = l.StackLo + 8
	b, rec, cyc := structs["runtime.bucket"], structs["runtime.memRecord"], structs["runtime.memRecordCycle"]
	l.BucketSize, l.BucketAllNext, l.BucketType, l.BucketObjSize, l.BucketNstk = b.ByteSize, field(b, "allnext"), field(b, "typ"), field(b, "size"), field(b, "nstk")
	l.RecordFuture, l.CycleSize, l.CycleAllocs, l.CycleFrees = field(rec, "future"), cyc.ByteSize, field(cyc, "allocs"), field(cyc, "frees")
	l.CycleAllocBytes, l.CycleFreeBytes = maybe(cyc, "alloc_bytes"), maybe(cyc, "free_bytes")
	return l, err
}
