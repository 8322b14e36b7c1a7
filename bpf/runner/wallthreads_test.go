package runner

import (
	"reflect"
	"strings"
	"testing"

	"github.com/trace-debug/kubectl-trace-debug/bpf/offcpu"
	"github.com/trace-debug/kubectl-trace-debug/bpf/stacks"
	"github.com/trace-debug/kubectl-trace-debug/bpf/syscalls"
)

func TestWaitFrames(t *testing.T) {
	nr := func(name string) int {
		for n, s := range syscalls.Names() {
			if s == name {
				return int(n)
			}
		}
		t.Fatalf("no syscall %s here", name)
		return 0
	}
	f := func(names ...string) []stacks.Frame {
		var out []stacks.Frame
		for _, n := range names {
			out = append(out, stacks.Frame{Func: n})
		}
		return out
	}
	for _, c := range []struct {
		name  string
		wait  offcpu.Wait
		named []stacks.Frame
		want  string
	}{
		{"asleep in a syscall, user stack only",
			offcpu.Wait{State: "sleeping", Syscall: nr("read"), User: []uint64{1, 2}},
			f("__libc_read", "main"),
			"[sleeping];[syscall read];__libc_read;main"},
		{"uninterruptible: the kernel's frames, the tracer's own left out, then the syscall",
			offcpu.Wait{State: "uninterruptible", Syscall: nr("vfork"), Kernel: []uint64{1, 2, 3, 4}, User: []uint64{5}},
			f("bpf_prog_1a2b_on_switch", "bpf_trace_run4", "__schedule", "kernel_clone", "vfork"),
			"[uninterruptible];__schedule;kernel_clone;[syscall vfork];vfork"},
		{"preempted outside a syscall",
			offcpu.Wait{State: "runnable", Syscall: -1, User: []uint64{1}},
			f("burn", "main"), // an inlined call: more frames than addresses
			"[runnable];burn;main"},
		{"no user stack",
			offcpu.Wait{State: "sleeping", Syscall: nr("futex"), Kernel: []uint64{1}},
			f("__schedule"),
			"[sleeping];__schedule;[syscall futex]"},
		{"asleep since before the window",
			offcpu.Wait{State: "sleeping", Syscall: nr("pselect6"), KernelNames: []string{"do_select", "__x64_sys_pselect6"}},
			nil,
			"[sleeping];do_select;__x64_sys_pselect6;[syscall pselect6];[asleep since before the window: its user stack not seen]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, fr := range waitFrames(c.wait, c.named) {
				got = append(got, fr.Func)
			}
			if want := strings.Split(c.want, ";"); !reflect.DeepEqual(got, want) {
				t.Errorf("waitFrames = %v\nwant          %v", got, want)
			}
		})
	}
}
