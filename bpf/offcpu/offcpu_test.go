package offcpu

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestStateName(t *testing.T) {
	for _, c := range []struct {
		state uint32
		want  string
	}{
		{0, "runnable"},
		{1, "sleeping"},
		{2, "uninterruptible"},
		{0x102, "uninterruptible"}, // TASK_KILLABLE
		{0x402, "idle"},            // TASK_IDLE
		{4, "stopped"},
		{8, "traced"},
		{0x80, "exiting"},
		{0x1000, "state 0x1000"},
	} {
		if got := StateName(c.state); got != c.want {
			t.Errorf("StateName(%#x) = %q, want %q", c.state, got, c.want)
		}
	}
}

func TestStateOf(t *testing.T) {
	for _, c := range []struct {
		stat  string
		state uint32
		away  bool
	}{
		{"12 (bash) S 1 12 12 34816", 1, true},
		{"12 (a (b) c) D 1", 2, true}, // a command holding parentheses and spaces
		{"12 (kworker) I 2", 0x402, true},
		{"12 (spin) R 1", 0, false},
		{"12 (stopped) T 1", 4, true},
		{"12 (x) t 1", 8, true},
		{"12 (zombie) Z 1", 0, false},
		{"garbage", 0, false},
		{"12 (cut)", 0, false},
	} {
		state, away := stateOf(c.stat)
		if state != c.state || away != c.away {
			t.Errorf("stateOf(%q) = %#x, %v; want %#x, %v", c.stat, state, away, c.state, c.away)
		}
	}
}

// A thread's ID in the target's namespace is read at the namespace's
// place in its process's NSpid, whatever namespace /proc is of.
func TestAsleepIDsInTheNamespace(t *testing.T) {
	dir := t.TempDir()
	write := func(path, s string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, path)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, path), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("status", "Name:\tw\nNSpid:\t4000\t1\n") // seen from the host: 4000 there, 1 in its own
	write("task/4000/status", "NSpid:\t4000\t1\n")
	write("task/4000/stat", "4000 (w) S 1")
	write("task/4000/stack", "[<0>] do_nanosleep+0x6a/0x170\n[<0>] hrtimer_nanosleep+0xb6/0x190\n")
	write("task/4001/status", "NSpid:\t4001\t2\n")
	write("task/4001/stat", "4001 (w) R 1")
	write("task/4002/status", "NSpid:\t4002\t3\n")
	write("task/4002/stat", "4002 (w) D 1")
	write("task/4000/syscall", "230 0x1 0x0 0x7ffd 0x0 0x0 0x0 0x7ffd0 0x7f12\n")
	write("task/4002/syscall", "-1 0x7ffd0 0x7f12\n")
	got := asleep(dir, 1)
	want := []sleeper{{1, "4000", 1, 230}, {3, "4002", 2, -1}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("asleep = %+v, want %+v", got, want)
	}
	if got := asleep(dir, 7); got != nil { // not the process's PID in any namespace
		t.Errorf("asleep with a PID not in NSpid = %+v, want none", got)
	}
	if got := kernelStackOf(filepath.Join(dir, "task/4000")); got != "do_nanosleep\nhrtimer_nanosleep" {
		t.Errorf("kernelStackOf = %q", got)
	}
}
