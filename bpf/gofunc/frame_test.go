package gofunc

import (
	"debug/elf"
	"debug/gosym"
	"path/filepath"
	"testing"

	"golang.org/x/arch/x86/x86asm"

	"github.com/trace-debug/kubectl-trace-debug/internal/testgo"
)

// frameSource has a frameless leaf (main.leaf), a function with a frame
// that calls it (main.caller), and the runtime's own.
const frameSource = `package main

import "os"

//go:noinline
func leaf(a, b int) int { return a*b + a }

//go:noinline
func caller(n int) int {
	var buf [64]int
	for i := range buf {
		buf[i] = leaf(i, n)
	}
	return buf[n%64]
}

func main() { os.Exit(caller(len(os.Args)) & 1) }
`

// FrameAt's SP delta at every instruction of a function is what the
// instructions themselves do to SP (PUSHQ, POPQ, SUBQ/ADDQ on SP), counted
// independently here by decoding them; the runtime's flags mark its top
// frame and its stack switches. Stripped alike, and built by every
// supported Go release (stripped).
func TestFrameAt(t *testing.T) {
	type build struct {
		toolchain string
		stripped  bool
	}
	builds := []build{{"", false}, {"", true}}
	if !testing.Short() {
		for _, tc := range testgo.Toolchains {
			builds = append(builds, build{tc, true})
		}
	}
	for _, b := range builds {
		stripped := b.stripped
		var flags []string
		if stripped {
			flags = append(flags, "-ldflags=-s -w")
		}
		f, lines, in := buildRead(t, b.toolchain, frameSource, flags...)
		if f.Machine != elf.EM_X86_64 {
			t.Skip("the instructions are decoded as amd64's")
		}
		text := f.Section(".text")
		for _, name := range []string{"main.leaf", "main.caller", "main.main"} {
			fn := lines.LookupFunc(name)
			if fn == nil {
				t.Fatalf("stripped %v: no %s", stripped, name)
			}
			code := make([]byte, fn.End-fn.Entry)
			if _, err := text.ReadAt(code, int64(fn.Entry-text.Addr)); err != nil {
				t.Fatal(err)
			}
			checked, maxDelta := 0, int64(0)
			delta := int64(0)             // what the instructions so far did to SP
			targets := map[uint64]int64{} // the delta at each jump's target, as the jump has it
			flowEnds := false             // the last instruction does not fall through
			for pc := fn.Entry; pc < fn.End; {
				inst, err := x86asm.Decode(code[pc-fn.Entry:], 64)
				if err != nil || inst.Op == x86asm.INT {
					break // padding after the function
				}
				if d, ok := targets[pc]; ok && flowEnds {
					delta = d
				}
				got, ok := in.FrameAt(pc)
				if !ok || got.Name != name {
					t.Fatalf("stripped %v: FrameAt(%#x) = %+v, %v; want %s", stripped, pc, got, ok, name)
				}
				if got.SPDelta != delta {
					t.Fatalf("stripped %v: %s+%#x (%v): SP delta %d, the instructions say %d", stripped, name, pc-fn.Entry, inst, got.SPDelta, delta)
				}
				checked, maxDelta = checked+1, max(maxDelta, delta)
				if rel, ok := inst.Args[0].(x86asm.Rel); ok && inst.Op != x86asm.CALL {
					targets[pc+uint64(inst.Len)+uint64(int64(rel))] = delta
				}
				delta += spEffect(inst)
				// RET, JMP and the NOP after a call that does not return
				flowEnds = inst.Op == x86asm.RET || inst.Op == x86asm.JMP || inst.Op == x86asm.NOP
				pc += uint64(inst.Len)
			}
			if checked < 3 || (name == "main.leaf") != (maxDelta == 0) {
				t.Fatalf("stripped %v: %s: %d instructions checked, largest delta %d (a leaf has none, a caller a frame)", stripped, name, checked, maxDelta)
			}
		}
		for name, flag := range map[string]uint8{"runtime.goexit": FuncTopFrame, "runtime.systemstack": FuncSPWrite, "main.caller": 0} {
			fn := lines.LookupFunc(name)
			if fn == nil {
				t.Fatalf("no %s", name)
			}
			got, _ := in.FrameAt(fn.Entry)
			if got.Flag&(FuncTopFrame|FuncSPWrite) != flag {
				t.Errorf("stripped %v: %s flags %b, want %b", stripped, name, got.Flag, flag)
			}
		}
		if _, ok := in.FrameAt(0x10); ok {
			t.Errorf("an address before the text is in no function")
		}
	}
}

// spEffect is how much an instruction moves SP down (negative: up).
func spEffect(inst x86asm.Inst) int64 {
	imm := func() int64 {
		if i, ok := inst.Args[1].(x86asm.Imm); ok {
			return int64(i)
		}
		return 0
	}
	switch {
	case inst.Op == x86asm.PUSH:
		return 8
	case inst.Op == x86asm.POP:
		return -8
	case inst.Op == x86asm.SUB && inst.Args[0] == x86asm.RSP:
		return imm()
	case inst.Op == x86asm.ADD && inst.Args[0] == x86asm.RSP:
		return -imm()
	}
	return 0
}

// buildRead builds src with toolchain ("" the running one) and flags, and
// reads the executable's line table and inline tables; the file stays
// open for the test.
func buildRead(t *testing.T, toolchain, src string, flags ...string) (*elf.File, *gosym.Table, *Inlines) {
	t.Helper()
	exe, err := testgo.BuildWith(filepath.Join(t.TempDir(), "b"+toolchain), toolchain, src, flags...)
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	lines, err := LineTable(f)
	if err != nil {
		t.Fatal(err)
	}
	in, err := ReadInlines(f, lines)
	if err != nil {
		t.Fatalf("%s: %v", toolchain, err)
	}
	return f, lines, in
}
