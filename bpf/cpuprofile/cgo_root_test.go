//go:build root

package cpuprofile

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trace-debug/kubectl-trace-debug/bpf/symbols"
	"github.com/trace-debug/kubectl-trace-debug/internal/testgo"
	"github.com/trace-debug/kubectl-trace-debug/internal/testns"
)

// cgoBurner spends its time in C, called through cgo from main.hotC; the C
// is built with frame pointers (without them is issue 24's: CFI).
const cgoBurner = `package main

/*
#cgo CFLAGS: -O2 -fno-omit-frame-pointer
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

// A sample in C code called through cgo keeps its Go callers, as Go's own
// profiler gives them (runtime.cgocall under main.hotC under main.main):
// the walk crosses from the system stack the C runs on back to the
// goroutine's (the frame pointer the C code saved is the goroutine's).
func TestCgoCallsKeepTheirGoCallers(t *testing.T) {
	exe, err := testgo.Build(t.TempDir(), cgoBurner)
	if err != nil {
		t.Fatal(err)
	}
	target := testns.Start(t, exe)
	read := func(uint32) (*symbols.Process, error) { return symbols.NewProcess("/proc", target) }
	s, err := Start(Target{PIDNamespace: "/proc/" + strconv.Itoa(target) + "/ns/pid", Hz: 99, Process: read})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	time.Sleep(2 * time.Second)
	s.Stop()
	sampled, _, err := s.Stacks()
	if err != nil {
		t.Fatal(err)
	}
	proc, err := read(1)
	if err != nil {
		t.Fatal(err)
	}
	p := Name("/proc", sampled, map[uint32]*symbols.Process{1: proc})
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
		if strings.Contains(all, ";runtime.cgocall;main._Cfunc_c_burn;main.hotC;main.main;") {
			crossed += st.Count
		} else {
			t.Logf("%d samples: %s", st.Count, all)
		}
	}
	t.Logf("%d samples in C, %d of them under runtime.cgocall, main.hotC and main.main", inC, crossed)
	if inC < 100 || crossed*10 < inC*9 {
		t.Errorf("%d of %d samples in c_leaf keep their Go callers (runtime.cgocall, main.hotC, main.main), want 90%% (and 100 samples at least)", crossed, inC)
	}
}
