package cfi

import (
	"debug/elf"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/go-delve/delve/pkg/dwarf/frame"
)

// DWARF's numbers of the x86-64 registers the unwinder follows.
const (
	regBP = 6
	regSP = 7
	regRA = 16
)

// Table is one ELF file's call-frame information, by address (the file's
// own virtual addresses).
type Table struct {
	fdes frame.FrameDescriptionEntries

	mu    sync.Mutex
	rules map[uint64]ruleOrErr
}

type ruleOrErr struct {
	r   Rule
	err error
}

// ErrNoCFI is a file without call-frame information, or an address no
// record of it covers.
var ErrNoCFI = errors.New("no call-frame information")

// Read reads f's .eh_frame and .debug_frame (both where both are: a
// record of either covers its addresses). ErrNoCFI if it has neither.
func Read(f *elf.File) (*Table, error) {
	if f.Machine != elf.EM_X86_64 {
		return nil, fmt.Errorf("read the call-frame information: %v files are not unwound by it here", f.Machine)
	}
	t := &Table{rules: map[uint64]ruleOrErr{}}
	if s := f.Section(".eh_frame"); s != nil && s.Type != elf.SHT_NOBITS {
		data, err := s.Data()
		if err != nil {
			return nil, fmt.Errorf("read .eh_frame: %w", err)
		}
		fdes, err := frame.Parse(data, f.ByteOrder, 0, 8, s.Addr)
		if err != nil {
			return nil, fmt.Errorf("parse .eh_frame: %w", err)
		}
		t.fdes = append(t.fdes, fdes...)
	}
	if s := f.Section(".debug_frame"); s != nil && s.Type != elf.SHT_NOBITS {
		data, err := s.Data()
		if err == nil {
			if fdes, err := frame.Parse(data, f.ByteOrder, 0, 8, 0); err == nil {
				t.fdes = append(t.fdes, fdes...)
			}
		}
	}
	if len(t.fdes) == 0 {
		return nil, ErrNoCFI
	}
	sort.SliceStable(t.fdes, func(i, j int) bool { return t.fdes[i].Begin() < t.fdes[j].Begin() })
	return t, nil
}

// Len is the number of records read.
func (t *Table) Len() int { return len(t.fdes) }

// Rule is how to find the caller of the frame at an address from the
// frame's registers: its canonical frame address (CFA) is the value of
// rsp or rbp plus an offset; the caller's rsp is the CFA, its return
// address is saved at the CFA plus RAOffset; the caller's rbp is saved at
// the CFA plus BPOffset (BPSaved) or is the frame's own.
type Rule struct {
	// CFAFromBP says the CFA is rbp plus CFAOffset (else rsp plus it).
	CFAFromBP bool
	CFAOffset int64
	// RAOffset is where the return address is, from the CFA.
	RAOffset int64
	// BPSaved says the caller's rbp is saved at the CFA plus BPOffset.
	BPSaved  bool
	BPOffset int64
	// Outermost says the frame has no caller (the return address is
	// undefined: a program's or a thread's first function).
	Outermost bool
}

// RuleAt is the rule at address a (a frame's pc; for a caller's frame,
// its return address minus one, inside the call). ErrNoCFI where no record
// covers a; another error where the row is not one Step can follow.
func (t *Table) RuleAt(a uint64) (Rule, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c, ok := t.rules[a]; ok {
		return c.r, c.err
	}
	r, err := t.ruleAt(a)
	if len(t.rules) < 1<<16 {
		t.rules[a] = ruleOrErr{r, err}
	}
	return r, err
}

func (t *Table) ruleAt(a uint64) (Rule, error) {
	fde, err := t.fdes.FDEForPC(a)
	if err != nil {
		return Rule{}, ErrNoCFI
	}
	fc, err := fde.EstablishFrame(a)
	if err != nil {
		return Rule{}, fmt.Errorf("run the CFA program at %#x: %w", a, err)
	}
	var r Rule
	switch {
	case fc.CFA.Rule != frame.RuleCFA:
		return Rule{}, fmt.Errorf("the CFA at %#x is a DWARF expression", a)
	case fc.CFA.Reg == regSP:
	case fc.CFA.Reg == regBP:
		r.CFAFromBP = true
	default:
		return Rule{}, fmt.Errorf("the CFA at %#x is reckoned from register %d", a, fc.CFA.Reg)
	}
	r.CFAOffset = fc.CFA.Offset
	ra, ok := fc.Regs[fc.RetAddrReg]
	switch {
	case !ok || ra.Rule == frame.RuleUndefined:
		r.Outermost = true
	case ra.Rule == frame.RuleOffset:
		r.RAOffset = ra.Offset
	default:
		return Rule{}, fmt.Errorf("the return address at %#x is not saved at an offset from the CFA", a)
	}
	if bp, ok := fc.Regs[regBP]; ok {
		switch bp.Rule {
		case frame.RuleOffset:
			r.BPSaved, r.BPOffset = true, bp.Offset
		case frame.RuleSameVal, frame.RuleUndefined:
		default:
			return Rule{}, fmt.Errorf("the saved rbp at %#x is not at an offset from the CFA", a)
		}
	}
	return r, nil
}

// Regs are the registers a frame is unwound from.
type Regs struct{ PC, SP, BP uint64 }

// Step is the caller's registers, given the frame's and a reader of the
// stack's words; false where a word could not be read (beyond the copy).
func (r Rule) Step(regs Regs, read func(addr uint64) (uint64, bool)) (Regs, bool) {
	base := regs.SP
	if r.CFAFromBP {
		base = regs.BP
	}
	cfa := base + uint64(r.CFAOffset)
	ra, ok := read(cfa + uint64(r.RAOffset))
	if !ok {
		return Regs{}, false
	}
	caller := Regs{PC: ra, SP: cfa, BP: regs.BP}
	if r.BPSaved {
		if caller.BP, ok = read(cfa + uint64(r.BPOffset)); !ok {
			return Regs{}, false
		}
	}
	return caller, true
}
