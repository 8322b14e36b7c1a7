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

func TestDemangled(t *testing.T) {
	for mangled, want := range map[string]string{
		"_ZN7callers8caller_a17h19e75421dbecf90fE": "callers::caller_a", // Rust, legacy: no hash
		"_RNvCs1234_7callers8caller_a":             "callers::caller_a", // Rust, v0
		"_Z4leafImET_S0_":                          "leaf<unsigned long>",
		"_ZN3OneILi2EE3runEm.isra.0":               "One<2>::run", // a GCC clone
		"_ZNSt6vectorIiSaIiEE9push_backERKi":       "std::vector<int, std::allocator<int> >::push_back",
		"main":                                     "main",
		"clock_nanosleep@GLIBC_2.2.5":              "clock_nanosleep", // a versioned symbol
		"memcpy@@GLIBC_2.14":                       "memcpy",
		"_Zjunk":                                   "_Zjunk", // not a name it reads: as it is
	} {
		if got := demangled(mangled); got != want {
			t.Errorf("demangled(%q) = %q, want %q", mangled, got, want)
		}
	}
}
