//go:build root

package cpuprofile

import (
	"strings"
	"testing"
	"time"

	"github.com/trace-debug/kubectl-trace-debug/internal/testgo"
	"github.com/trace-debug/kubectl-trace-debug/internal/testns"
)

// cgoBurner spends its time in C, called through cgo from main.hotC; the C
// is built with the flags EXTRA stands for.
const cgoBurner = `package main

/*
#cgo CFLAGS: -O2 EXTRA
__attribute__((noinline)) static unsigned long c_leaf(unsigned long n)
{
	unsigned long x = 0;
	for (unsigned long i = 0; i < n; i++)
		x += (i * i) ^ (x >> 3);
	return x;
}

__attribute__((noinline)) unsigned long c_burn(unsigned long n) { return c_leaf(n) + 1; }
*/
import "C"

var sink C.ulong

//go:noinline
func hotC() {
	for {
		sink += C.c_burn(100000000)
	}
}

func main() { hotC() }
`

// A sample in C code called through cgo keeps its C callers and its Go
// callers, as Go's own profiler gives them (runtime.cgocall under
// main.hotC under main.main), whether the C keeps frame pointers or not:
// the C frames are unwound by their call-frame information, and from the
// stack switch back to the goroutine's stack the frame pointers carry on
// (from the first frame both walks hold, or, where the C put rbp back as
// it found it, from the sample's own).
func TestCgoCallsKeepTheirGoCallers(t *testing.T) {
	for _, c := range []struct{ name, cflags string }{
		{"C with frame pointers", "-fno-omit-frame-pointer"},
		{"C without", "-fomit-frame-pointer"},
	} {
		t.Run(c.name, func(t *testing.T) {
			exe, err := testgo.Build(t.TempDir(), strings.Replace(cgoBurner, "EXTRA", c.cflags, 1))
			if err != nil {
				t.Fatal(err)
			}
			target := testns.Start(t, exe)
			pr := profileFor(t, target, 499, 2*time.Second) // (at 99 Hz a busy CI node gave it under 50 samples)
			p := pr.profile
			var inC, crossed uint64
			for _, st := range p.Stacks {
				var funcs []string
				for _, f := range st.Frames {
					funcs = append(funcs, f.Func)
				}
				all := ";" + strings.Join(funcs, ";") + ";"
				if !strings.Contains(all, ";c_leaf;") {
					continue
				}
				inC += st.Count
				if strings.Contains(all, ";c_leaf;c_burn;_cgo_") && strings.Contains(all, "_Cfunc_c_burn;runtime.asmcgocall;runtime.cgocall;main._Cfunc_c_burn;main.hotC;main.main;") {
					crossed += st.Count
				} else {
					t.Logf("%d samples: %s", st.Count, all)
				}
			}
			t.Logf("%d samples in C, %d of them under c_burn, the cgo call and main.hotC, main.main", inC, crossed)
			if inC < 50 || crossed*10 < inC*9 {
				t.Errorf("%d of %d samples in c_leaf keep their C caller, the cgo call (runtime.asmcgocall, runtime.cgocall, main._Cfunc_c_burn) and Go callers (main.hotC, main.main), want 90%% (and 50 samples at least)", crossed, inC)
			}
		})
	}
}
