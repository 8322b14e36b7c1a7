package symbols

import (
	"debug/elf"
	"debug/gosym"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/ianlancetaylor/demangle"

	"github.com/trace-debug/kubectl-trace-debug/bpf/cfi"
	"github.com/trace-debug/kubectl-trace-debug/bpf/gofunc"
	"github.com/trace-debug/kubectl-trace-debug/bpf/stacks"
)

// table is a file's functions sorted by start address, its loadable
// segments to turn file offsets into the addresses they name, and, for a Go
// executable, its line table (file and line of each address) and its
// inlined calls.
type table struct {
	funcs   []gofunc.Span
	loads   []*elf.Prog
	lines   *gosym.Table
	inlines *gofunc.Inlines

	path    string // to read its call-frame information when first asked
	cfiOnce sync.Once
	cfi     *cfi.Table
	cfiErr  error
}

// loadTable reads the functions of the ELF file at path; a file without a
// symbol table is named from its separate debug file under root (the
// process's root: see debugFile) where it has one.
func loadTable(path, root, seenAs string) (*table, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	t := &table{path: path}
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD {
			t.loads = append(t.loads, p)
		}
	}
	if fns, err := gofunc.Functions(f); err == nil {
		t.funcs = fns
	}
	if f.Section(".gopclntab") != nil {
		t.lines, _ = gofunc.LineTable(f)
		t.inlines, _ = gofunc.ReadInlines(f, t.lines)
	}
	if len(t.funcs) == 0 { // stripped: its separate debug file's symbols
		if dbg := debugFile(f, root, seenAs); dbg != "" {
			if df, err := elf.Open(dbg); err == nil {
				t.funcs, _ = gofunc.Functions(df)
				df.Close()
			}
		}
	}
	if len(t.funcs) == 0 { // a stripped shared library without one: its dynamic symbols
		syms, _ := f.DynamicSymbols()
		for _, s := range syms {
			if elf.ST_TYPE(s.Info) == elf.STT_FUNC && s.Size > 0 {
				t.funcs = append(t.funcs, gofunc.Span{Name: s.Name, Start: s.Value, End: s.Value + s.Size, Symbol: true})
			}
		}
	}
	for i, fn := range t.funcs {
		if fn.Symbol {
			t.funcs[i].Name = demangled(fn.Name)
		}
	}
	sort.Slice(t.funcs, func(i, j int) bool { return t.funcs[i].Start < t.funcs[j].Start })
	return t, nil
}

// demangled is a C++ or Rust symbol's name as its source says it
// (std::vector<int>::push_back, callers::caller_a), without parameters, a
// compiler's clone suffixes or Rust's hash; any other name as it is, but
// for a symbol version (clock_nanosleep@GLIBC_2.2.5, as libc's debug file
// names it), which no source name holds.
func demangled(name string) string {
	name, _, _ = strings.Cut(name, "@")
	return demangle.Filter(name, demangle.NoParams, demangle.NoClones)
}

// frameRules is the file's call-frame information, read when first asked.
func (t *table) frameRules() (*cfi.Table, error) {
	t.cfiOnce.Do(func() {
		f, err := elf.Open(t.path)
		if err != nil {
			t.cfiErr = fmt.Errorf("open %s: %w", t.path, err)
			return
		}
		defer f.Close()
		t.cfi, t.cfiErr = cfi.Read(f)
	})
	return t.cfi, t.cfiErr
}

// addr turns a file offset into the address the file's symbols use.
func (t *table) addr(off uint64) (uint64, bool) {
	for _, p := range t.loads {
		if off >= p.Off && off < p.Off+p.Filesz {
			return off - p.Off + p.Vaddr, true
		}
	}
	return 0, false
}

// frames are the frames at address a, innermost first: a Go executable's
// inlined calls there and the function holding them, with file and line;
// else the function holding a; none when no function holds it.
func (t *table) frames(a uint64) []stacks.Frame {
	if t.inlines != nil {
		var out []stacks.Frame
		for _, f := range t.inlines.Frames(a) {
			out = append(out, stacks.Frame{Func: f.Func, File: f.File, Line: f.Line})
		}
		if len(out) > 0 {
			return out
		}
	}
	if t.lines != nil {
		if file, line, fn := t.lines.PCToLine(a); fn != nil {
			return []stacks.Frame{{Func: fn.Name, File: file, Line: line}}
		}
	}
	if n := t.name(a); n != "" {
		return []stacks.Frame{{Func: n}}
	}
	return nil
}

// name is the function holding address a, or "".
func (t *table) name(a uint64) string {
	i := sort.Search(len(t.funcs), func(i int) bool { return t.funcs[i].Start > a }) - 1
	if i >= 0 && a < t.funcs[i].End {
		return t.funcs[i].Name
	}
	return ""
}

// debugFile is where f, mapped by the process as seenAs, keeps its
// symbols apart, under the process's root: by its build ID
// (/usr/lib/debug/.build-id/ab/cdef....debug), else by its .gnu_debuglink
// name in the places gdb looks (/usr/lib/debug/DIR, DIR/.debug, DIR); ""
// if none is there.
func debugFile(f *elf.File, root, seenAs string) string {
	if root == "" {
		return ""
	}
	var candidates []string
	if id := buildID(f); len(id) > 1 {
		h := hex.EncodeToString(id)
		candidates = append(candidates, filepath.Join("/usr/lib/debug/.build-id", h[:2], h[2:]+".debug"))
	}
	if s := f.Section(".gnu_debuglink"); s != nil {
		if b, err := s.Data(); err == nil {
			if name, _, ok := strings.Cut(string(b), "\x00"); ok && name != "" {
				dir := filepath.Dir(seenAs)
				candidates = append(candidates, filepath.Join("/usr/lib/debug", dir, name), filepath.Join(dir, ".debug", name), filepath.Join(dir, name))
			}
		}
	}
	for _, c := range candidates {
		p := filepath.Join(root, c)
		if p == filepath.Join(root, seenAs) {
			continue // the file itself
		}
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

// buildID is f's GNU build ID (its .note.gnu.build-id), or nil.
func buildID(f *elf.File) []byte {
	s := f.Section(".note.gnu.build-id")
	if s == nil {
		return nil
	}
	b, err := s.Data()
	if err != nil || len(b) < 16 {
		return nil
	}
	namesz, descsz, typ := f.ByteOrder.Uint32(b), f.ByteOrder.Uint32(b[4:]), f.ByteOrder.Uint32(b[8:])
	off := 12 + (namesz+3)&^3
	if typ != 3 || uint64(off)+uint64(descsz) > uint64(len(b)) { // NT_GNU_BUILD_ID
		return nil
	}
	return b[off : off+descsz]
}
