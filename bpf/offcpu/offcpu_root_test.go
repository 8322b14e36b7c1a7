//go:build root

package offcpu

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trace-debug/kubectl-trace-debug/bpf/symbols"
	"github.com/trace-debug/kubectl-trace-debug/bpf/syscalls"
	"github.com/trace-debug/kubectl-trace-debug/internal/testns"
)

// The tracker accounts for the whole window of every thread of a C program
// in a namespace of its own, as the threads really spent it: one asleep in
// clock_nanosleep all the time (its user stack in libc's clock_nanosleep
// under main — waiter_loop, between them, is lost to the frame-pointer
// walk through libc, which keeps none), one on the CPU half the time, one
// in pause() since before the window began (known from /proc, its kernel
// stack named), one waiting uninterruptibly for its vforked children (the
// kernel's stack recorded, through the vfork wait).
func TestTrackerAccountsForTheWindow(t *testing.T) {
	exe := filepath.Join(t.TempDir(), "waiter")
	if out, err := exec.Command("gcc", "-O1", "-fno-omit-frame-pointer", "-pthread", "-o", exe, "testdata/waiter.c").CombinedOutput(); err != nil {
		t.Fatalf("build the target: %v\n%s", err, out)
	}
	pid := testns.Start(t, exe)
	time.Sleep(200 * time.Millisecond) // its threads started
	dir := "/proc/" + strconv.Itoa(pid)
	tr, err := Start(Target{PIDNamespace: dir + "/ns/pid", Processes: []Process{{PID: 1, Dir: dir}}})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	time.Sleep(2 * time.Second)
	res, err := tr.Stop()
	if err != nil {
		t.Fatal(err)
	}
	proc, err := symbols.NewProcess("/proc", pid)
	if err != nil {
		t.Fatal(err)
	}
	kernel, err := symbols.NewKernel("/proc/kallsyms")
	if err != nil {
		t.Fatal(err)
	}
	var total, waiter, paused, vforking time.Duration
	for _, w := range res.Waits {
		if w.PID != 1 {
			t.Errorf("a wait of process %d, which was not asked for", w.PID)
		}
		total += w.Time
		var user, kern []string
		for i, a := range w.User {
			if i > 0 {
				a--
			}
			for _, f := range proc.Frames(a) {
				user = append(user, f.Func)
			}
		}
		for _, a := range w.Kernel {
			kern = append(kern, kernel.Name(a))
		}
		call := syscalls.Name(uint32(w.Syscall))
		if w.Syscall < 0 {
			call = "none"
		}
		t.Logf("%-15s %8v in %s, user %v, kernel %v %v", w.State, w.Time.Round(time.Millisecond), call, user, kern, w.KernelNames)
		switch {
		case !w.Seen() && call == "pause":
			paused += w.Time
			if !strings.Contains(strings.Join(w.KernelNames, " "), "pause") {
				t.Errorf("the thread in pause()'s kernel stack, as /proc gave it: %v", w.KernelNames)
			}
		case w.State == "sleeping" && call == "clock_nanosleep" && len(user) > 1 && user[0] == "clock_nanosleep" && user[1] == "main":
			waiter += w.Time
		case w.State == "uninterruptible" && strings.Contains(strings.Join(kern, " "), "vfork"):
			vforking += w.Time
		case w.State == "sleeping" && len(w.Kernel) > 0:
			t.Errorf("a wait that is not uninterruptible has a kernel stack (the costly walk): %v", kern)
		}
	}
	t.Logf("running %v, lost %+v", res.Running, res.Lost)
	total += res.Running[1]
	check := func(what string, got time.Duration, lo, hi float64) {
		t.Helper()
		if r := got.Seconds() / res.Window.Seconds(); r < lo || r > hi {
			t.Errorf("%s: %v in a window of %v (%.2f of it), want %.2f to %.2f", what, got.Round(time.Millisecond), res.Window, r, lo, hi)
		}
	}
	check("all four threads' time, off the CPU and on", total, 3.8, 4.3)
	check("the sleeper's time in clock_nanosleep under main", waiter, 0.9, 1.1)
	check("the thread in pause()'s time", paused, 0.9, 1.1)
	// (Other tests' processes may hold the CPUs meanwhile: the vforker's
	// child and the burner then wait for one, and that time is runnable.)
	check("the vforker's time uninterruptible, through the vfork wait", vforking, 0.4, 1.1)
	check("the half-time burner's time on the CPU", res.Running[1], 0.15, 0.8)
}
