package symbols

import (
	"debug/elf"
	"testing"

	"github.com/trace-debug/kubectl-trace-debug/bpf/gofunc"
)

func TestTable(t *testing.T) {
	tab := &table{
		funcs: []gofunc.Span{{Name: "a", Start: 0x1000, End: 0x1010}, {Name: "b", Start: 0x1010, End: 0x1040}, {Name: "c", Start: 0x1100, End: 0x1200}},
		loads: []*elf.Prog{{ProgHeader: elf.ProgHeader{Type: elf.PT_LOAD, Off: 0x0, Vaddr: 0x400000, Filesz: 0x2000}}, {ProgHeader: elf.ProgHeader{Type: elf.PT_LOAD, Off: 0x3000, Vaddr: 0x404000, Filesz: 0x100}}},
	}
	for a, want := range map[uint64]string{0x1000: "a", 0x100f: "a", 0x1010: "b", 0x1040: "", 0x10ff: "", 0x11ff: "c", 0x1200: "", 0xfff: ""} {
		if got := tab.name(a); got != want {
			t.Errorf("name(%#x) = %q, want %q", a, got, want)
		}
	}
	for off, want := range map[uint64]uint64{0x10: 0x400010, 0x3008: 0x404008} {
		if got, ok := tab.addr(off); !ok || got != want {
			t.Errorf("addr(%#x) = %#x, %v; want %#x", off, got, ok, want)
		}
	}
	if _, ok := tab.addr(0x2500); ok {
		t.Error("an offset in no loadable segment has an address")
	}
}
