package gofunc

import (
	"debug/dwarf"
	"debug/elf"
	"strings"
	"testing"

	"github.com/trace-debug/kubectl-trace-debug/internal/testgo"
)

// Where the module data keeps text and gofunc, and the release read from
// .go.buildinfo, are what each supported toolchain's build says (its
// DWARF's runtime.moduledata); and each build's inline tree is read, a
// function inlined into main named as a frame of its own.
func TestModuleDataOfEachToolchain(t *testing.T) {
	if testing.Short() {
		t.Skip("builds with every supported toolchain")
	}
	for _, tc := range testgo.Toolchains {
		f, lines, in := buildRead(t, tc, inlineSource)
		if v := goVersion(f); v != tc {
			t.Errorf("%s: .go.buildinfo says %q", tc, v)
		}
		offsets := moduledataOffsets(t, f)
		if offsets["text"] != textWord*8 || offsets["gofunc"] != int64(gofuncWordOf(tc)*8) {
			t.Errorf("%s: moduledata.text at %d and .gofunc at %d; the reader uses %d and %d", tc, offsets["text"], offsets["gofunc"], textWord*8, gofuncWordOf(tc)*8)
		}
		outer := lines.LookupFunc("main.outer")
		found := false
		for pc := outer.Entry; pc < outer.End && !found; pc++ {
			fr := in.Frames(pc)
			found = len(fr) == 2 && fr[0].Func == "main.inner" && fr[1].Func == "main.outer" && strings.HasSuffix(fr[1].File, "main.go")
		}
		if !found {
			t.Errorf("%s: no pc of main.outer names main.inner inlined in it", tc)
		}
	}
}

// moduledataOffsets are runtime.moduledata's field offsets, from f's DWARF.
func moduledataOffsets(t *testing.T, f *elf.File) map[string]int64 {
	t.Helper()
	d, err := f.DWARF()
	if err != nil {
		t.Fatal(err)
	}
	r := d.Reader()
	for {
		e, err := r.Next()
		if err != nil || e == nil {
			t.Fatal("no runtime.moduledata in the DWARF")
		}
		if name, _ := e.Val(dwarf.AttrName).(string); e.Tag == dwarf.TagStructType && name == "runtime.moduledata" {
			typ, err := d.Type(e.Offset)
			if err != nil {
				t.Fatal(err)
			}
			out := map[string]int64{}
			for _, fl := range typ.(*dwarf.StructType).Field {
				out[fl.Name] = fl.ByteOffset
			}
			return out
		}
	}
}
