//go:build root

package cpuprofile

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trace-debug/kubectl-trace-debug/internal/testns"
)

// Native programs built without frame pointers — C (-O2, GCC's default),
// C++ (-O2: a function template as the leaf, a class's method and a class
// template's as its callers, an inlined helper between) and Rust (a
// release build) — whose hot leaf has two callers at a known 3:1, profile
// with each caller's cumulative share within 5 points of its truth: their
// stacks are unwound by .eh_frame, their C++ and Rust names demangled.
// Frame pointers alone name neither caller (red seen).
func TestNativeCallersByCFI(t *testing.T) {
	src := "../../images/callers/"
	for _, c := range []struct {
		lang, leaf, a, b string
		build            []string
	}{
		{"C", "leaf", "caller_a", "caller_b", []string{"gcc", "-O2", "-o", "OUT", src + "callers.c"}},
		{"C++", "leaf<unsigned long>", "Three::run", "One<2>::run", []string{"g++", "-O2", "-o", "OUT", src + "callers.cpp"}},
		{"Rust", "callers::leaf", "callers::caller_a", "callers::caller_b", []string{"rustc", "-C", "opt-level=3", "-C", "strip=debuginfo", "-o", "OUT", src + "callers.rs"}},
	} {
		t.Run(c.lang, func(t *testing.T) {
			exe := filepath.Join(t.TempDir(), "callers")
			for i, a := range c.build {
				if a == "OUT" {
					c.build[i] = exe
				}
			}
			if out, err := exec.Command(c.build[0], c.build[1:]...).CombinedOutput(); err != nil {
				t.Fatalf("%v: %v\n%s", c.build, err, out)
			}
			target := testns.Start(t, exe)
			pr := profileFor(t, target, 499, 4*time.Second)
			p := pr.profile
			shares := p.TotalShares()
			t.Logf("%d samples; unwound: %d by tables, %d spliced, %d by frame pointers, %d stopped %v; %s %.1f%%, %s %.1f%%, %s %.1f%%",
				p.Samples(), pr.lost.ByTables, pr.lost.Spliced, pr.lost.ByFramePointers, pr.lost.Stopped, pr.lost.Stops, c.a, shares[c.a], c.b, shares[c.b], c.leaf, shares[c.leaf])
			leaf := shares[c.leaf]
			if leaf < 90 {
				for _, st := range p.Stacks {
					t.Logf("%d %v", st.Count, st.Frames)
				}
				t.Fatalf("%s has %.1f%% of the samples, want nearly all", c.leaf, leaf)
			}
			for fn, truth := range map[string]float64{c.a: 0.75 * leaf, c.b: 0.25 * leaf, "main": leaf} {
				if d := shares[fn] - truth; d > 5 || d < -5 {
					t.Errorf("%s: %.1f%% cumulative, its truth %.1f%%: more than 5 points off", fn, shares[fn], truth)
				}
			}
		})
	}
}

// A program from Debian's archive (gzip, stripped, built without frame
// pointers) has its stacks unwound whole, as gdb, the binary's own
// debugger, unwinds them: each of three backtraces gdb takes of it after
// the profile is one the profile holds (the same return addresses, frame
// for frame), and nearly every sample reaches libc's __libc_start_main.
func TestDebianProgramAsGDBUnwindsIt(t *testing.T) {
	target := testns.Start(t, "bash", "-c", "exec gzip -9 -c < /dev/urandom > /dev/null")
	time.Sleep(200 * time.Millisecond)
	pr := profileFor(t, target, 499, 3*time.Second)
	held := map[string]bool{} // each sampled user stack's callers (return addresses), as text
	var total, toStart uint64
	for _, st := range pr.sampled {
		total += st.Count
		if len(st.User) > 1 {
			held[fmt.Sprintf("%x", st.User[1:])] = true
		}
		for _, a := range st.User[1:] {
			if pr.proc.Name(a-1) == "__libc_start_main" || pr.proc.Name(a-1) == "__libc_start_call_main" {
				toStart += st.Count
				break
			}
		}
	}
	t.Logf("%d samples, %d distinct caller chains; %d reach __libc_start_main; unwound: %d by tables, %d stopped %v", total, len(held), toStart, pr.lost.ByTables, pr.lost.Stopped, pr.lost.Stops)
	if toStart*100 < total*95 {
		t.Errorf("%d of %d samples reach __libc_start_main, want 95%%", toStart, total)
	}
	frame := regexp.MustCompile(`^#(\d+)\s+(0x[0-9a-f]+)? ?`)
	for i := 0; i < 3; i++ {
		out, err := exec.Command("gdb", "-p", strconv.Itoa(target), "-batch", "-ex", "bt").Output()
		if err != nil {
			t.Fatalf("gdb: %v\n%s", err, out)
		}
		var callers []uint64
		for _, line := range strings.Split(string(out), "\n") {
			m := frame.FindStringSubmatch(line)
			if m == nil || m[1] == "0" {
				continue
			}
			if m[2] == "" { // an inlined frame: gdb prints no address, the sampler has no frame
				continue
			}
			a, _ := strconv.ParseUint(m[2][2:], 16, 64)
			callers = append(callers, a)
		}
		if !held[fmt.Sprintf("%x", callers)] {
			t.Errorf("gdb's backtrace %d, callers %#x, is no stack the profile holds\n%s", i, callers, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Code in a library built without call-frame information
// (-fno-asynchronous-unwind-tables) ends its stack in a frame that says
// so and names the library, never in a guessed caller; the share of such
// samples is counted.
func TestNoCFIStopsAndSaysWhy(t *testing.T) {
	dir := t.TempDir()
	lib, exe := filepath.Join(dir, "libnocfi.so"), filepath.Join(dir, "main")
	const libSrc = `
__attribute__((noinline)) unsigned long nocfi_hot(unsigned long n)
{
	unsigned long x = 0;
	for (unsigned long i = 0; i < n; i++)
		x += (i * i) ^ (x >> 3);
	return x;
}
`
	const mainSrc = `
unsigned long nocfi_hot(unsigned long n);
volatile unsigned long sink;
__attribute__((noinline)) void caller(void) { sink += nocfi_hot(100000000); }
int main(void) { for (;;) caller(); }
`
	for name, src := range map[string]string{"lib.c": libSrc, "main.c": mainSrc} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{
		{"gcc", "-O2", "-shared", "-fPIC", "-fno-asynchronous-unwind-tables", "-fno-unwind-tables", "-o", lib, filepath.Join(dir, "lib.c")},
		{"gcc", "-O2", "-o", exe, filepath.Join(dir, "main.c"), "-L" + dir, "-lnocfi", "-Wl,-rpath," + dir},
	} {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	target := testns.Start(t, exe)
	time.Sleep(100 * time.Millisecond)
	pr := profileFor(t, target, 499, 2*time.Second)
	p := pr.profile
	want := "[unwind stopped: no call-frame information in " + lib + "]"
	var inHot, saidSo uint64
	for _, st := range p.Stacks {
		var user []string
		for _, f := range st.Frames {
			user = append(user, f.Func)
		}
		all := strings.Join(user, ";")
		if !strings.Contains(all, "nocfi_hot") {
			continue
		}
		inHot += st.Count
		if strings.HasSuffix(all, "nocfi_hot;"+want) {
			saidSo += st.Count
		} else {
			t.Logf("%d: %s", st.Count, all)
		}
	}
	t.Logf("%d samples in nocfi_hot, %d end in %s; %d stopped in all %v", inHot, saidSo, want, pr.lost.Stopped, pr.lost.Stops)
	if inHot < 100 || saidSo*100 < inHot*95 {
		t.Errorf("%d of %d samples in nocfi_hot end right after it in %s, want 95%%", saidSo, inHot, want)
	}
	if pr.lost.Stops["no call-frame information in "+lib] < saidSo {
		t.Errorf("the stops are not counted by reason: %v", pr.lost.Stops)
	}
}
