package gofunc

import (
	"debug/buildinfo"
	"debug/dwarf"
	"debug/elf"
	"debug/gosym"
	"encoding/binary"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"

	"golang.org/x/arch/arm64/arm64asm"
	"golang.org/x/arch/x86/x86asm"

	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
)

// ErrCannotProbe means a function cannot be probed safely; the error says why.
var ErrCannotProbe = errors.New("cannot probe safely")

// Func is a Go function of an executable, located for probing.
type Func struct {
	// Name is the function's full name, e.g. main.counterValue.
	Name string
	// Entry is the file offset of its first instruction.
	Entry uint64
	// Returns are the file offsets of its RET instructions.
	Returns []uint64
	// Results are the Go types of its results, from DWARF, or as the
	// user declared them for a binary without DWARF; nil when unknown.
	Results []string
	// Declared is true when Results are the user's declaration.
	Declared bool
	// Symbol is true when the executable's symbol table names the function,
	// so tools that look functions up by name (bpftrace) find it too.
	Symbol bool
}

// Resolve finds the functions of the Go executable at file whose names match
// one of patterns (path.Match syntax: main.counterValue, main.*), and decodes
// each to find its RET instructions. It refuses, rather than guess, when the
// file is not a Go executable of a supported version and architecture, when
// a pattern matches nothing (absent, or inlined everywhere), or when
// a function's code does not decode.
func Resolve(file string, patterns []string) ([]Func, error) {
	bi, err := buildinfo.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not a Go executable: %w", ErrCannotProbe, file, err)
	}
	f, err := elf.Open(file)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", file, err)
	}
	defer f.Close()
	if err := checkABI(f.Machine, bi.GoVersion); err != nil {
		return nil, err
	}
	all, err := Functions(f)
	if err != nil {
		return nil, err
	}
	results := dwarfResults(f)
	var out []Func
	for _, spec := range patterns {
		p, declared, err := protocol.SplitFunc(spec)
		if err != nil {
			return nil, err
		}
		matched := 0
		for _, fn := range all {
			if ok, _ := path.Match(p, fn.Name); !ok {
				continue
			}
			matched++
			located, err := locate(f, fn)
			if err != nil {
				return nil, err
			}
			located.Results = results[fn.Name]
			if located.Results == nil && declared != nil {
				located.Results, located.Declared = declared, true
			}
			out = append(out, located)
		}
		if matched == 0 {
			return nil, fmt.Errorf("%w: no function %q in %s: it is absent, or inlined at every call (mark it //go:noinline)", ErrCannotProbe, p, file)
		}
	}
	return out, nil
}

// ErrorsSeen reports whether a failed call can be told from the results:
// the last one is an error; else why not.
func (fn Func) ErrorsSeen() (bool, string) {
	switch {
	case fn.Results == nil:
		return false, fmt.Sprintf("the results of %s are not known (its binary has no DWARF); declare them: --func '%s=TYPES' with its result types, such as int,error", fn.Name, fn.Name)
	case len(fn.Results) == 0:
		return false, fmt.Sprintf("%s returns nothing", fn.Name)
	case fn.Results[len(fn.Results)-1] != "error":
		return false, fmt.Sprintf("the last result of %s is %s, not an error", fn.Name, fn.Results[len(fn.Results)-1])
	}
	return true, ""
}

// checkABI accepts the register-based ABIInternal: amd64 from Go 1.17,
// arm64 from Go 1.18.
func checkABI(m elf.Machine, goVersion string) error {
	minor := 0
	if v, ok := strings.CutPrefix(goVersion, "go1."); ok {
		minor, _ = strconv.Atoi(strings.FieldsFunc(v, func(r rune) bool { return r < '0' || r > '9' })[0])
	}
	switch {
	case m == elf.EM_X86_64 && minor >= 17, m == elf.EM_AARCH64 && minor >= 18:
		return nil
	case m != elf.EM_X86_64 && m != elf.EM_AARCH64:
		return fmt.Errorf("%w: architecture %v is not supported (amd64 and arm64 are)", ErrCannotProbe, m)
	}
	return fmt.Errorf("%w: built by %s, whose results are not passed in registers (Go 1.17 on amd64, 1.18 on arm64)", ErrCannotProbe, goVersion)
}

// Span is a function's name and its addresses.
type Span struct {
	Name       string
	Start, End uint64 // virtual addresses
	Symbol     bool   // from the symbol table
}

// Functions lists the executable's functions from its symbol table, or from
// .gopclntab when it is stripped (Go executables, PIE too).
func Functions(f *elf.File) ([]Span, error) {
	if syms, err := f.Symbols(); err == nil && len(syms) > 0 {
		var out []Span
		for _, s := range syms {
			if elf.ST_TYPE(s.Info) == elf.STT_FUNC && s.Size > 0 {
				out = append(out, Span{s.Name, s.Value, s.Value + s.Size, true})
			}
		}
		return out, nil
	}
	tab, err := LineTable(f)
	if err != nil {
		return nil, err
	}
	out := make([]Span, 0, len(tab.Funcs))
	for _, fn := range tab.Funcs {
		out = append(out, Span{fn.Name, fn.Entry, fn.End, false})
	}
	return out, nil
}

// LineTable reads a Go executable's .gopclntab (stripped and PIE too): its
// functions, and the file and line of each address.
func LineTable(f *elf.File) (*gosym.Table, error) {
	sec := f.Section(".gopclntab")
	if sec == nil {
		return nil, fmt.Errorf("%w: no symbol table and no .gopclntab", ErrCannotProbe)
	}
	data, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("read .gopclntab: %w", err)
	}
	text, err := textStart(f, sec.Addr)
	if err != nil {
		return nil, err
	}
	tab, err := gosym.NewTable(nil, gosym.NewLineTable(data, text))
	if err != nil {
		return nil, fmt.Errorf("%w: parse .gopclntab: %w", ErrCannotProbe, err)
	}
	return tab, nil
}

// textStart finds where the functions of a stripped Go executable start:
// the module data's text field (the pclntab header no longer records it
// since Go 1.26). The module data is found by its first word, the address
// of the pclntab. The result must lie in .text, or it is refused.
func textStart(f *elf.File, pclntab uint64) (uint64, error) {
	text := f.Section(".text")
	if text == nil {
		return 0, fmt.Errorf("%w: no .text section", ErrCannotProbe)
	}
	md, err := moduleData(f, pclntab, textWord+1)
	if err != nil {
		return 0, fmt.Errorf("%w: stripped executable whose text start cannot be found; refusing to guess offsets", ErrCannotProbe)
	}
	if v := f.ByteOrder.Uint64(md[textWord*8:]); v >= text.Addr && v < text.Addr+text.Size {
		return v, nil
	}
	return 0, fmt.Errorf("%w: the module data's text start is outside .text; refusing to guess offsets", ErrCannotProbe)
}

// locate turns a function's addresses into file offsets and finds its RETs.
func locate(f *elf.File, fn Span) (Func, error) {
	var seg *elf.Prog
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && p.Flags&elf.PF_X != 0 && fn.Start >= p.Vaddr && fn.End <= p.Vaddr+p.Filesz {
			seg = p
		}
	}
	if seg == nil {
		return Func{}, fmt.Errorf("%w: %s is not in an executable segment", ErrCannotProbe, fn.Name)
	}
	code := make([]byte, fn.End-fn.Start)
	if _, err := seg.ReadAt(code, int64(fn.Start-seg.Vaddr)); err != nil {
		return Func{}, fmt.Errorf("read %s: %w", fn.Name, err)
	}
	rets, err := returns(f.Machine, code)
	if err != nil {
		return Func{}, fmt.Errorf("%w: decode %s: %w; refusing to guess instruction boundaries", ErrCannotProbe, fn.Name, err)
	}
	if len(rets) == 0 {
		return Func{}, fmt.Errorf("%w: %s has no RET instruction (it never returns, or ends in a tail call)", ErrCannotProbe, fn.Name)
	}
	off := fn.Start - seg.Vaddr + seg.Off
	out := Func{Name: fn.Name, Entry: off, Symbol: fn.Symbol}
	for _, r := range rets {
		out.Returns = append(out.Returns, off+r)
	}
	return out, nil
}

// returns decodes code instruction by instruction and lists the offsets of
// its RETs. Padding after the last instruction (INT3 on amd64) decodes too.
func returns(m elf.Machine, code []byte) ([]uint64, error) {
	var rets []uint64
	switch m {
	case elf.EM_X86_64:
		for pc := 0; pc < len(code); {
			inst, err := x86asm.Decode(code[pc:], 64)
			if err != nil {
				return nil, fmt.Errorf("at +%#x: %w", pc, err)
			}
			if inst.Op == x86asm.RET {
				rets = append(rets, uint64(pc))
			}
			pc += inst.Len
		}
	case elf.EM_AARCH64:
		for pc := 0; pc+4 <= len(code); pc += 4 {
			inst, err := arm64asm.Decode(code[pc:])
			if err != nil {
				if binary.LittleEndian.Uint32(code[pc:]) == 0 {
					continue // zero padding
				}
				return nil, fmt.Errorf("at +%#x: %w", pc, err)
			}
			if inst.Op == arm64asm.RET {
				rets = append(rets, uint64(pc))
			}
		}
	}
	return rets, nil
}

// dwarfResults maps function names to their result types, when the
// executable has DWARF. Go marks results with DW_AT_variable_parameter.
func dwarfResults(f *elf.File) map[string][]string {
	out := map[string][]string{}
	d, err := f.DWARF()
	if err != nil {
		return out
	}
	r := d.Reader()
	for {
		e, err := r.Next()
		if err != nil || e == nil {
			return out
		}
		if e.Tag != dwarf.TagSubprogram || !e.Children {
			continue
		}
		name, _ := e.Val(dwarf.AttrName).(string)
		var results []string
		seen := map[string]bool{} // with defers, Go can list a result twice
		for {
			c, err := r.Next()
			if err != nil || c == nil || c.Tag == 0 {
				break
			}
			if c.Children {
				r.SkipChildren()
			}
			if c.Tag != dwarf.TagFormalParameter {
				continue
			}
			if isResult, _ := c.Val(dwarf.AttrVarParam).(bool); !isResult {
				continue
			}
			if pname, _ := c.Val(dwarf.AttrName).(string); pname != "" {
				if seen[pname] {
					continue
				}
				seen[pname] = true
			}
			if off, ok := c.Val(dwarf.AttrType).(dwarf.Offset); ok {
				if t, err := d.Type(off); err == nil {
					results = append(results, typeName(t))
				}
			}
		}
		if name != "" && len(results) > 0 {
			out[name] = results
		}
	}
}

// typeName is a DWARF type's Go name: "string", "error", "*main.T".
func typeName(t dwarf.Type) string {
	if st, ok := t.(*dwarf.StructType); ok && st.StructName != "" {
		return st.StructName // string, slices and structs
	}
	if n := t.Common().Name; n != "" {
		return n
	}
	return t.String()
}
