//go:build root

package goproc

import (
	"bufio"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trace-debug/kubectl-trace-debug/internal/testgo"
)

// parked parks 1000 goroutines in main.worker on a channel, 10 in
// main.sleeper asleep, 5 in main.locker on a mutex, then says how many
// goroutines its runtime counts, and waits.
const parked = `package main

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"
)

var (
	ch = make(chan int)
	mu sync.Mutex
)

//go:noinline
func worker() { <-ch }

//go:noinline
func sleeper() { time.Sleep(time.Hour) }

//go:noinline
func locker() { mu.Lock() }

func main() {
	mu.Lock()
	for i := 0; i < 1000; i++ {
		go worker()
	}
	for i := 0; i < 10; i++ {
		go sleeper()
	}
	for i := 0; i < 5; i++ {
		go locker()
	}
	time.Sleep(500 * time.Millisecond)
	runtime.GC() // records how long each has waited
	fmt.Fprintln(os.Stdout, runtime.NumGoroutine())
	select {}
}
`

// The goroutines of a running Go process are read from outside as its
// runtime counts them, each with where it waits and why: built by every
// supported toolchain, stripped (the oldest unstripped too), a PIE.
func TestGoroutinesAsTheRuntimeCountsThem(t *testing.T) {
	type build struct {
		toolchain string
		flags     []string
	}
	builds := []build{{"go1.21.13", nil}, {"go1.27.3", []string{"-buildmode=pie", "-ldflags=-s -w"}}}
	for _, tc := range testgo.Toolchains { // every supported release, stripped
		builds = append(builds, build{tc, []string{"-ldflags=-s -w"}})
	}
	for _, c := range builds {
		name := c.toolchain + " " + strings.Join(c.flags, " ")
		t.Run(name, func(t *testing.T) {
			p, want := startCounted(t, c.toolchain, parked, c.flags...)
			start := time.Now()
			r, err := p.Goroutines()
			if err != nil {
				t.Fatal(err)
			}
			took := time.Since(start)
			by := map[string]int{}
			whole := 0
			for _, g := range r.Goroutines {
				fn := ""
				for _, pc := range g.Stack {
					if n := p.Names.Name(pc - 1); strings.HasPrefix(n, "main.") {
						fn = n
						break
					}
				}
				by[g.State+" in "+fn]++
				if g.Whole {
					whole++
				}
			}
			t.Logf("%s: %d goroutines (its runtime: %d), %d dropped, %d unwound whole, read in %v: %v", p.Version, len(r.Goroutines), want, r.Dropped, whole, took, by)
			if len(r.Goroutines)+r.Dropped != want {
				t.Errorf("read %d goroutines (+%d dropped), its runtime counts %d", len(r.Goroutines), r.Dropped, want)
			}
			for k, n := range map[string]int{"chan receive in main.worker": 1000, "sleep in main.sleeper": 10, "sync.Mutex.Lock in main.locker": 5} {
				if by[k] != n {
					t.Errorf("%d goroutines %s, want %d", by[k], k, n)
				}
			}
			if whole < len(r.Goroutines)-1 {
				t.Errorf("%d of %d stacks unwound to their top", whole, len(r.Goroutines))
			}
		})
	}
}

// inC parks 100 goroutines in main.worker and keeps 3 in a C function
// (cgo), then says how many goroutines its runtime counts.
const inC = `package main

/*
#include <unistd.h>
static void nap(void) { for (;;) sleep(3600); }
*/
import "C"

import (
	"fmt"
	"os"
	"runtime"
	"time"
)

var ch = make(chan int)

//go:noinline
func worker() { <-ch }

//go:noinline
func inC() { C.nap() }

func main() {
	for i := 0; i < 100; i++ {
		go worker()
	}
	for i := 0; i < 3; i++ {
		go inC()
	}
	time.Sleep(500 * time.Millisecond)
	fmt.Fprintln(os.Stdout, runtime.NumGoroutine())
	select {}
}
`

// A cgo binary's goroutines are read alike: those in C are in a system
// call (as the runtime says of a cgo call), their Go callers named.
func TestGoroutinesOfACgoBinary(t *testing.T) {
	p, want := startCounted(t, "", inC, "-ldflags=-s -w")
	r, err := p.Goroutines()
	if err != nil {
		t.Fatal(err)
	}
	inCgo := 0
	for _, g := range r.Goroutines {
		for _, pc := range g.Stack {
			if p.Names.Name(pc-1) == "main.inC" && g.State == "syscall" {
				inCgo++
				break
			}
		}
	}
	t.Logf("%d goroutines (its runtime: %d), %d dropped, %d in C", len(r.Goroutines), want, r.Dropped, inCgo)
	if len(r.Goroutines)+r.Dropped != want || inCgo != 3 {
		t.Fatalf("read %d goroutines (+%d dropped), 3 in C wanted, %d found; its runtime counts %d", len(r.Goroutines), r.Dropped, inCgo, want)
	}
}

// startCounted builds src with toolchain (and flags), runs it, waits for
// the goroutine count it prints once its goroutines are parked, and opens
// it for reading; the process ends with the test.
func startCounted(t *testing.T, toolchain, src string, flags ...string) (*Process, int) {
	t.Helper()
	exe, err := testgo.BuildWith(filepath.Join(t.TempDir(), "t"), toolchain, src, flags...)
	if err != nil {
		t.Fatal(err)
	}
	return startExe(t, exe)
}

// startExe starts exe, waits for the number its first line says, and
// opens the process.
func startExe(t *testing.T, exe string) (*Process, int) {
	t.Helper()
	cmd := exec.Command(exe)
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	p, err := Open("/proc", cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	said, _ := strconv.Atoi(strings.TrimSpace(line))
	t.Cleanup(func() { p.Close() })
	return p, said
}
