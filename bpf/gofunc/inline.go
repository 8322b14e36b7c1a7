package gofunc

import (
	"bytes"
	"debug/elf"
	"debug/gosym"
	"encoding/binary"
	"fmt"
	"sort"
)

// Inlines reads the calls the Go compiler inlined, from .gopclntab and the
// module data (stripped executables too): for an address, the functions
// whose code it is, innermost first, each with its file and line. Its
// layout is Go 1.26's (runtime/symtab.go: pcHeader, _func, the inline tree
// of FUNCDATA_InlTree indexed by PCDATA_InlTreeIndex); the standard
// library's debug/gosym does not read the inline tree.
type Inlines struct {
	lines    *gosym.Table
	order    binary.ByteOrder
	text     uint64 // moduledata.text: function entries are offsets from it
	quantum  uint64 // PC quantum: 1 on amd64, 4 on arm64
	names    []byte // funcnametab
	pctab    []byte
	ftab     []functab
	clntable []byte // pclntable, where _func records are
	funcdata func(off uint64, n int) []byte
}

// functab is one function of the ftab: its entry (from text) and where its
// _func record is in the pclntable.
type functab struct{ entry, funcoff uint32 }

// Go 1.26's pclntab and module data constants (the pclntab's layout is
// Go 1.20's, its magic number unchanged since).
const (
	go120Magic         = 0xfffffff1
	pcdataInlTreeIndex = 2
	funcdataInlTree    = 3
	funcRecordSize     = 44 // _func up to and with nfuncdata
	inlinedCallSize    = 16
	textWord           = 22 // moduledata.text, in pointers: pcHeader, 6 slices, findfunctab, minpc, maxpc
	gofuncWord         = 40 // moduledata.gofunc, Go 1.21 to 1.26 (see gofuncWordOf)
	gofuncWord127      = 43 // moduledata.gofunc since Go 1.27
)

// gofuncWordOf is where the module data keeps gofunc, in pointers, in a
// binary built by Go release version (go1.27.3); the test checks it
// against the DWARF of each supported toolchain's build.
func gofuncWordOf(version string) int {
	var minor int
	if _, err := fmt.Sscanf(version, "go1.%d", &minor); err == nil && minor >= 27 {
		return gofuncWord127
	}
	return gofuncWord
}

// goVersion is the Go release that built f (go1.27.3), from its
// .go.buildinfo section (Go 1.18 and newer keep it there as a string); ""
// when unknown.
func goVersion(f *elf.File) string {
	sec := f.Section(".go.buildinfo")
	if sec == nil {
		return ""
	}
	data, err := sec.Data()
	if err != nil || len(data) < 33 || !bytes.HasPrefix(data, []byte("\xff Go buildinf:")) || data[15]&2 == 0 {
		return ""
	}
	n, k := binary.Uvarint(data[32:])
	if k <= 0 || uint64(len(data)) < 32+uint64(k)+n {
		return ""
	}
	return string(data[32+k : 32+uint64(k)+n])
}

// Frame is one frame at an address: the function, and the file and line.
type Frame struct {
	Func string
	File string
	Line int
}

// ReadInlines reads f's inline tables, with lines, f's line table (see
// LineTable); an error means f is not a Go executable this reader knows
// (its frames are then named without their inlined calls).
func ReadInlines(f *elf.File, lines *gosym.Table) (*Inlines, error) {
	if lines == nil {
		return nil, fmt.Errorf("%w: no line table", ErrCannotProbe)
	}
	sec := f.Section(".gopclntab")
	data, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("read .gopclntab: %w", err)
	}
	md, err := moduleData(f, sec.Addr, gofuncWordOf(goVersion(f))+1)
	if err != nil {
		return nil, err
	}
	o := f.ByteOrder
	word := func(b []byte, i int) uint64 { return o.Uint64(b[i*8:]) }
	if len(data) < 8+10*8 || o.Uint32(data) != go120Magic || data[7] != 8 {
		return nil, fmt.Errorf("%w: a pclntab this reader does not know (it reads Go 1.20's layout, 64-bit)", ErrCannotProbe)
	}
	hdr := data[8:] // after magic, pads, minLC, ptrSize
	nfunc := int(word(hdr, 0))
	funcnameOff, pctabOff, pclnOff := word(hdr, 3), word(hdr, 6), word(hdr, 7)
	if pclnOff > uint64(len(data)) || funcnameOff > uint64(len(data)) || pctabOff > uint64(len(data)) {
		return nil, fmt.Errorf("%w: pclntab offsets out of range", ErrCannotProbe)
	}
	in := &Inlines{lines: lines, order: o, text: word(md, textWord), quantum: uint64(max(data[6], 1)),
		names: data[funcnameOff:], pctab: data[pctabOff:], clntable: data[pclnOff:]}
	if uint64(len(in.clntable)) < uint64(nfunc+1)*8 {
		return nil, fmt.Errorf("%w: a short ftab", ErrCannotProbe)
	}
	for i := 0; i <= nfunc; i++ {
		in.ftab = append(in.ftab, functab{o.Uint32(in.clntable[i*8:]), o.Uint32(in.clntable[i*8+4:])})
	}
	// The inline trees are read now (the file may be closed by the time
	// frames are named): the stretch of go:func.* that holds them all.
	gofunc := word(md, gofuncWordOf(goVersion(f)))
	lo, hi := in.treeSpan()
	trees := readAt(f, gofunc+lo, int(hi-lo))
	in.funcdata = func(off uint64, n int) []byte {
		if trees == nil || off < lo || off+uint64(n) > hi {
			return nil
		}
		return trees[off-lo : off-lo+uint64(n)]
	}
	return in, nil
}

// treeSpan is the stretch of go:func.* that holds every function's inline
// tree, as offsets from it: from the first tree to the end of the last,
// whose length is its largest index in its function's table.
func (in *Inlines) treeSpan() (lo, hi uint64) {
	lo = ^uint64(0)
	for i := 0; i < len(in.ftab)-1; i++ {
		idxTable, treeOff := in.inlineTables(in.ftab[i].funcoff)
		if idxTable == 0 {
			continue
		}
		entry := in.text + uint64(in.ftab[i].entry)
		n := uint64(in.maxValue(idxTable, entry)+1) * inlinedCallSize
		lo, hi = min(lo, uint64(treeOff)), max(hi, uint64(treeOff)+n)
	}
	if lo > hi {
		return 0, 0
	}
	return lo, hi
}

// inlineTables are the offsets of a function's inline index table (in the
// pctab; 0: none) and of its inline tree (from go:func.*), read from its
// _func record at funcoff in the pclntable.
func (in *Inlines) inlineTables(funcoff uint32) (idxTable, treeOff uint32) {
	if int(funcoff) >= len(in.clntable) {
		return 0, 0
	}
	fn := in.clntable[funcoff:]
	if len(fn) < funcRecordSize {
		return 0, 0
	}
	npcdata, nfuncdata := in.order.Uint32(fn[28:]), uint32(fn[43])
	if npcdata <= pcdataInlTreeIndex || nfuncdata <= funcdataInlTree || len(fn) < funcRecordSize+int(npcdata+nfuncdata)*4 {
		return 0, 0
	}
	idxTable = in.order.Uint32(fn[funcRecordSize+pcdataInlTreeIndex*4:])
	treeOff = in.order.Uint32(fn[funcRecordSize+int(npcdata)*4+funcdataInlTree*4:])
	if treeOff == ^uint32(0) {
		return 0, 0
	}
	return idxTable, treeOff
}

// readAt reads n bytes at virtual address a from the section holding them.
func readAt(f *elf.File, a uint64, n int) []byte {
	for _, s := range f.Sections {
		if s.Type == elf.SHT_NOBITS || s.Flags&elf.SHF_ALLOC == 0 || a < s.Addr || a+uint64(n) > s.Addr+s.Size {
			continue
		}
		b := make([]byte, n)
		if _, err := s.ReadAt(b, int64(a-s.Addr)); err != nil {
			return nil
		}
		return b
	}
	return nil
}

// moduleData finds the module data: the words that start with the
// pclntab's address, in the sections the linker puts it in (.go.module
// since Go 1.26).
func moduleData(f *elf.File, pclntab uint64, words int) ([]byte, error) {
	for _, name := range []string{".go.module", ".noptrdata", ".data"} {
		sec := f.Section(name)
		if sec == nil {
			continue
		}
		data, err := sec.Data()
		if err != nil {
			continue
		}
		for off := 0; off+words*8 <= len(data); off += 8 {
			if f.ByteOrder.Uint64(data[off:]) == pclntab {
				return data[off : off+words*8], nil
			}
		}
	}
	return nil, fmt.Errorf("%w: no module data", ErrCannotProbe)
}

// Frames are the frames at address pc, innermost first: the calls inlined
// there, then the function they were inlined into; none when no function
// holds pc.
func (in *Inlines) Frames(pc uint64) []Frame {
	i := sort.Search(len(in.ftab), func(i int) bool { return in.text+uint64(in.ftab[i].entry) > pc }) - 1
	if i < 0 || i >= len(in.ftab)-1 {
		return nil
	}
	entry := in.text + uint64(in.ftab[i].entry)
	if int(in.ftab[i].funcoff)+funcRecordSize > len(in.clntable) {
		return nil
	}
	outer := in.name(in.order.Uint32(in.clntable[in.ftab[i].funcoff+4:]))
	idxTable, treeOff := in.inlineTables(in.ftab[i].funcoff)
	var frames []Frame
	at := pc
	for depth := 0; idxTable != 0 && depth < 64; depth++ {
		idx := in.pcvalue(idxTable, entry, at)
		if idx < 0 {
			break
		}
		call := in.funcdata(uint64(treeOff)+uint64(idx)*inlinedCallSize, inlinedCallSize)
		if call == nil {
			break
		}
		file, line, _ := in.lines.PCToLine(at)
		frames = append(frames, Frame{Func: in.name(in.order.Uint32(call[4:])), File: file, Line: line})
		at = entry + uint64(int32(in.order.Uint32(call[8:])))
	}
	file, line, _ := in.lines.PCToLine(at)
	return append(frames, Frame{Func: outer, File: file, Line: line})
}

// name is the function name at off in the funcnametab.
func (in *Inlines) name(off uint32) string {
	if int(off) >= len(in.names) {
		return ""
	}
	b := in.names[off:]
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// maxValue is the largest value of the pc-value table at off in the pctab
// for the function entered at entry (-1 when it has none).
func (in *Inlines) maxValue(off uint32, entry uint64) int32 {
	best := int32(-1)
	in.walk(off, entry, func(_ uint64, val int32) bool { best = max(best, val); return true })
	return best
}

// pcvalue is the value of the pc-value table at off in the pctab for
// target, a pc of the function entered at entry; -1 when the table does
// not cover it.
func (in *Inlines) pcvalue(off uint32, entry, target uint64) int32 {
	val := int32(-1)
	in.walk(off, entry, func(end uint64, v int32) bool {
		if target < end {
			val = v
			return false
		}
		return true
	})
	return val
}

// walk calls each with every run of the pc-value table at off in the
// pctab (the end of its addresses, its value) until each returns false;
// the table's encoding is runtime/symtab.go's step: zigzag value deltas and
// pc deltas in PC quanta, as varints.
func (in *Inlines) walk(off uint32, entry uint64, each func(end uint64, val int32) bool) {
	if int(off) >= len(in.pctab) {
		return
	}
	p := in.pctab[off:]
	pc, val := entry, int32(-1)
	for first := true; len(p) > 0; first = false {
		uv, n := binary.Uvarint(p)
		if n <= 0 || uv == 0 && !first {
			return
		}
		p = p[n:]
		val += int32(-(int64(uv) & 1) ^ int64(uv>>1))
		pcd, n := binary.Uvarint(p)
		if n <= 0 {
			return
		}
		p = p[n:]
		pc += pcd * in.quantum
		if !each(pc, val) {
			return
		}
	}
}
