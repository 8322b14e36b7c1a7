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
	"github.com/trace-debug/kubectl-trace-debug/internal/testns"
)

// The tracker accounts for the whole window of every thread of a C program
// in a namespace of its own, as the threads really spent it: one asleep in
// nanosleep all the time (its user stack in libc's clock_nanosleep under
// main — waiter_loop, between them, is lost to the frame-pointer walk
// through libc, which keeps none — its kernel stack in the sleep), one on
// the CPU half the time, one
// in pause() since before the window began (known from /proc, its kernel
// stack named).
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
	window := 2 * time.Second
	time.Sleep(window)
	res, err := tr.Stop()
	if err != nil {
		t.Fatal(err)
	}
	proc, err := symbols.NewProcess("/proc", pid)
	if err != nil {
		t.Fatal(err)
	}
	var total, waiter, unseen time.Duration
	var waiterKernel string
	window = res.Window
	for _, w := range res.Waits {
		if w.PID != 1 {
			t.Errorf("a wait of process %d, which was not asked for", w.PID)
		}
		total += w.Time
		var user []string
		for i, a := range w.User {
			if i > 0 {
				a--
			}
			for _, f := range proc.Frames(a) {
				user = append(user, f.Func)
			}
		}
		t.Logf("%-12s %8v user %v kernel %d frames %v", w.State, w.Time.Round(time.Millisecond), user, len(w.Kernel), w.KernelNames)
		switch {
		case !w.Seen() && strings.Contains(strings.Join(w.KernelNames, " "), "pause"):
			unseen += w.Time
		case w.State == "sleeping" && len(user) > 1 && user[0] == "clock_nanosleep" && user[1] == "main":
			waiter += w.Time
			if len(w.Kernel) == 0 {
				t.Errorf("the sleeper's wait of %v has no kernel stack", w.Time)
			}
			waiterKernel = "seen"
		}
	}
	t.Logf("running %v, lost %+v", res.Running, res.Lost)
	total += res.Running[1]
	check := func(what string, got time.Duration, lo, hi float64) {
		t.Helper()
		if r := got.Seconds() / window.Seconds(); r < lo || r > hi {
			t.Errorf("%s: %v in a window of %v (%.2f of it), want %.2f to %.2f", what, got.Round(time.Millisecond), window, r, lo, hi)
		}
	}
	check("all three threads' time, off the CPU and on", total, 2.85, 3.3)
	check("the sleeper's time asleep under main", waiter, 0.9, 1.1)
	check("the thread in pause()'s time", unseen, 0.9, 1.1)
	check("the half-time burner's time on the CPU", res.Running[1], 0.3, 0.7)
	if waiterKernel == "" {
		t.Error("no wait under main")
	}
}
