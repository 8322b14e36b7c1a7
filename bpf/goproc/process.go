package goproc

import (
	"bufio"
	"debug/buildinfo"
	"debug/elf"
	"debug/gosym"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/arch/x86/x86asm"

	"github.com/trace-debug/kubectl-trace-debug/bpf/gofunc"
	"github.com/trace-debug/kubectl-trace-debug/bpf/symbols"
)

// Process is a running Go process, read from outside: its binary's
// runtime (version, layout, the addresses of the globals the reader
// needs) and its memory.
type Process struct {
	// PID is the process's PID (under the procRoot it was opened with).
	PID int
	// Version is the Go release that built it (go1.21.13).
	Version string
	// Names names its addresses and unwinds its Go frames (package symbols).
	Names *symbols.Process

	layout Layout
	mem    *os.File
	// allgs is the address of runtime.allgs (a []*g), waitReasons that of
	// runtime.waitReasonStrings, both where the process has them.
	allgs, waitReasons uint64
	reasons            map[uint8]string
	heap               heapGlobals
}

// Open reads process pid under procRoot (/proc, or the target's): its
// executable, its mappings, and where its runtime keeps its goroutines.
// ErrUnsupported says why a process cannot be read (not Go, an unknown
// release, a runtime the reader cannot find its way in).
func Open(procRoot string, pid int) (*Process, error) {
	dir := filepath.Join(procRoot, strconv.Itoa(pid))
	exe := filepath.Join(dir, "exe")
	bi, err := buildinfo.ReadFile(exe)
	if err != nil {
		return nil, fmt.Errorf("%w (process %d: %w)", ErrNotGo, pid, err)
	}
	layout, err := LayoutFor(bi.GoVersion)
	if err != nil {
		return nil, err
	}
	f, err := elf.Open(exe)
	if err != nil {
		return nil, fmt.Errorf("open the executable of process %d: %w", pid, err)
	}
	defer f.Close()
	if f.Machine != elf.EM_X86_64 {
		return nil, fmt.Errorf("%w: process %d is %v; the reader knows amd64", ErrUnsupported, pid, f.Machine)
	}
	lines, err := gofunc.LineTable(f)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnsupported, err)
	}
	bias, err := loadBias(dir, f)
	if err != nil {
		return nil, err
	}
	allgs, err := globalIn(f, lines, "runtime.forEachG", pairLoaded)
	if err != nil {
		return nil, fmt.Errorf("%w: find runtime.allgs: %w", ErrUnsupported, err)
	}
	names, err := symbols.NewProcess(procRoot, pid)
	if err != nil {
		return nil, err
	}
	mem, err := os.Open(filepath.Join(dir, "mem"))
	if err != nil {
		return nil, fmt.Errorf("read the memory of process %d: %w", pid, err)
	}
	p := &Process{PID: pid, Version: bi.GoVersion, Names: names, layout: layout, mem: mem, allgs: allgs + bias, reasons: map[uint8]string{}}
	p.heap = findHeapGlobals(f, lines)
	p.heap.mbuckets, p.heap.rate, p.heap.disabled = p.heap.mbuckets+bias, p.heap.rate+bias, p.heap.disabled+bias
	for _, a := range leaTargets(f, lines, "runtime.goroutineheader") {
		if p.isWaitReasons(a + bias) {
			p.waitReasons = a + bias
			break
		}
	}
	return p, nil
}

// Close closes the process's memory.
func (p *Process) Close() error { return p.mem.Close() }

// loadBias is how far the executable is loaded from its link addresses (a
// PIE's; 0 for a fixed-address executable), from the process's mappings.
func loadBias(dir string, f *elf.File) (uint64, error) {
	if f.Type != elf.ET_DYN {
		return 0, nil
	}
	exe, err := os.Readlink(filepath.Join(dir, "exe"))
	if err != nil {
		return 0, fmt.Errorf("read the executable's path: %w", err)
	}
	maps, err := os.Open(filepath.Join(dir, "maps"))
	if err != nil {
		return 0, fmt.Errorf("read the mappings: %w", err)
	}
	defer maps.Close()
	sc := bufio.NewScanner(maps)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[5] != exe {
			continue
		}
		lo, _, _ := strings.Cut(fields[0], "-")
		start, _ := strconv.ParseUint(lo, 16, 64)
		off, _ := strconv.ParseUint(fields[2], 16, 64)
		for _, prog := range f.Progs {
			if prog.Type == elf.PT_LOAD && off >= prog.Off && off < prog.Off+prog.Filesz {
				return start - (prog.Vaddr + off - prog.Off), nil
			}
		}
	}
	return 0, fmt.Errorf("%w: the executable %s is not in the process's mappings", ErrUnsupported, exe)
}

// globalIn finds a global variable from the instructions of function fn:
// the address pick chooses among the RIP-relative loads fn makes.
func globalIn(f *elf.File, lines *gosym.Table, fn string, pick func(loads []uint64) (uint64, bool)) (uint64, error) {
	insts, err := decode(f, lines, fn)
	if err != nil {
		return 0, err
	}
	var loads []uint64
	for _, in := range insts {
		if in.Op == x86asm.MOV {
			if a, ok := ripTarget(in); ok {
				loads = append(loads, a)
			}
		}
	}
	a, ok := pick(loads)
	if !ok {
		return 0, fmt.Errorf("%s loads no global as expected (%d loads)", fn, len(loads))
	}
	return a, nil
}

// pairLoaded picks the first address loaded along with the word after it:
// a slice's pointer and length (runtime.allgs in runtime.forEachG).
func pairLoaded(loads []uint64) (uint64, bool) {
	for _, a := range loads {
		for _, b := range loads {
			if b == a+8 {
				return a, true
			}
		}
	}
	return 0, false
}

// leaTargets are the addresses function fn takes with LEAQ, RIP-relative.
func leaTargets(f *elf.File, lines *gosym.Table, fn string) []uint64 {
	insts, _ := decode(f, lines, fn)
	var out []uint64
	for _, in := range insts {
		if in.Op == x86asm.LEA {
			if a, ok := ripTarget(in); ok {
				out = append(out, a)
			}
		}
	}
	return out
}

// instruction is a decoded instruction and the address after it.
type instruction struct {
	x86asm.Inst
	next uint64
}

// decode decodes function fn of f.
func decode(f *elf.File, lines *gosym.Table, fn string) ([]instruction, error) {
	sym := lines.LookupFunc(fn)
	if sym == nil {
		return nil, fmt.Errorf("no function %s", fn)
	}
	text := f.Section(".text")
	if text == nil || sym.Entry < text.Addr || sym.End > text.Addr+text.Size {
		return nil, fmt.Errorf("%s is not in .text", fn)
	}
	code := make([]byte, sym.End-sym.Entry)
	if _, err := text.ReadAt(code, int64(sym.Entry-text.Addr)); err != nil {
		return nil, fmt.Errorf("read %s: %w", fn, err)
	}
	var out []instruction
	for pc := sym.Entry; pc < sym.End; {
		in, err := x86asm.Decode(code[pc-sym.Entry:], 64)
		if err != nil {
			pc++
			continue
		}
		pc += uint64(in.Len)
		out = append(out, instruction{in, pc})
	}
	return out, nil
}

// ripTarget is the address an instruction's RIP-relative memory operand
// names.
func ripTarget(in instruction) (uint64, bool) {
	for _, arg := range in.Args {
		if m, ok := arg.(x86asm.Mem); ok && m.Base == x86asm.RIP && m.Index == 0 {
			return uint64(int64(in.next) + m.Disp), true
		}
	}
	return 0, false
}

// word reads the 8 bytes at addr in the process.
func (p *Process) word(addr uint64) (uint64, bool) {
	var b [8]byte
	if _, err := p.mem.ReadAt(b[:], int64(addr)); err != nil {
		return 0, false
	}
	return binary.LittleEndian.Uint64(b[:]), true
}

// read reads n bytes at addr in the process.
func (p *Process) read(addr uint64, n int) ([]byte, bool) {
	b := make([]byte, n)
	if _, err := p.mem.ReadAt(b, int64(addr)); err != nil {
		return nil, false
	}
	return b, true
}

// str reads the Go string whose header is at addr (at most 256 bytes).
func (p *Process) str(addr uint64) (string, bool) {
	ptr, ok1 := p.word(addr)
	n, ok2 := p.word(addr + 8)
	if !ok1 || !ok2 || n > 256 {
		return "", false
	}
	if n == 0 {
		return "", true
	}
	b, ok := p.read(ptr, int(n))
	return string(b), ok
}

// isWaitReasons reports whether addr holds runtime.waitReasonStrings: its
// first entries are the runtime's first wait reasons, the same in every
// supported release.
func (p *Process) isWaitReasons(addr uint64) bool {
	zero, ok0 := p.str(addr)
	one, ok1 := p.str(addr + 16)
	two, ok2 := p.str(addr + 32)
	return ok0 && ok1 && ok2 && zero == "" && one == "GC assist marking" && two == "IO wait"
}

// waitReason is the runtime's name of wait reason r ("" when unknown).
func (p *Process) waitReason(r uint8) string {
	if s, ok := p.reasons[r]; ok {
		return s
	}
	s := ""
	if p.waitReasons != 0 {
		if v, ok := p.str(p.waitReasons + 16*uint64(r)); ok {
			s = v
		}
	}
	p.reasons[r] = s
	return s
}
