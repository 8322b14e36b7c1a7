package gofunc

import (
	"debug/elf"
	"strings"
	"testing"

	"github.com/trace-debug/kubectl-trace-debug/internal/testgo"
)

// inlineSource has main.inner, small enough to be inlined, called from
// main.outer, which is not.
const inlineSource = `package main

import "os"

func inner(n int) int {
	x := 0
	for i := 0; i < n; i++ {
		x += i * i
	}
	return x
}

//go:noinline
func outer(n int) int {
	return inner(n) + 1
}

func main() { os.Exit(outer(len(os.Args)) & 1) }
`

// The inline tree names the inlined call in the function it was inlined
// into, innermost first, with both frames' lines: in the binary as built
// and stripped alike.
func TestInlines(t *testing.T) {
	for _, stripped := range []bool{false, true} {
		var flags []string
		if stripped {
			flags = append(flags, "-ldflags=-s -w")
		}
		exe, err := testgo.Build(t.TempDir(), inlineSource, flags...)
		if err != nil {
			t.Fatal(err)
		}
		f, err := elf.Open(exe)
		if err != nil {
			t.Fatal(err)
		}
		lines, err := LineTable(f)
		if err != nil {
			t.Fatal(err)
		}
		in, err := ReadInlines(f, lines)
		if err != nil {
			t.Fatalf("stripped %v: %v", stripped, err)
		}
		f.Close() // the frames are named from what was read (symbols closes its files)
		fn := lines.LookupFunc("main.outer")
		if fn == nil {
			t.Fatal("no main.outer")
		}
		inlined, plain := 0, 0
		for pc := fn.Entry; pc < fn.End; pc++ {
			frames := in.Frames(pc)
			if len(frames) == 0 || frames[len(frames)-1].Func != "main.outer" {
				t.Fatalf("stripped %v: pc %#x in main.outer: frames %+v", stripped, pc, frames)
			}
			switch {
			case len(frames) == 2 && frames[0].Func == "main.inner":
				inlined++
				if !strings.HasSuffix(frames[0].File, "main.go") || frames[0].Line < 6 || frames[0].Line > 10 || frames[1].Line != 15 {
					t.Fatalf("stripped %v: inlined frames %+v: want inner's lines 6-10 called from line 15", stripped, frames)
				}
			case len(frames) == 1:
				plain++
			default:
				t.Fatalf("stripped %v: frames %+v", stripped, frames)
			}
		}
		if inlined == 0 || plain == 0 {
			t.Fatalf("stripped %v: %d addresses in the inlined call, %d outside it; want both", stripped, inlined, plain)
		}
		if fr := in.Frames(0); fr != nil {
			t.Errorf("address 0: %+v, want none", fr)
		}
	}
}
