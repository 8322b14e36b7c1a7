// Package offcpu measures where the threads of a pod's processes wait:
// an eBPF program on the scheduler's sched_switch tracepoint (offcpu.c,
// bpf2go; no kprobes), filtered in the kernel by the target's PID
// namespace and by the processes asked for, adds up the time each thread
// spends off the CPU by (process, user stack, kernel stack, state), and
// the time they spend on it by process. It is how the wall-clock profile
// (--wall) sees the processes of a pod that are not Go, whose goroutines
// it cannot read.
//
// A thread asleep since before the window is known from /proc (its state
// and that it sleeps), not its stacks: the kernel records a stack when the
// thread leaves the CPU. User stacks are walked by frame pointers.
//
// Pod-only: it runs in the runner, in the tracer container; the client
// links none of it (boundary_test.go keeps it so).
package offcpu

//go:generate go tool bpf2go -tags linux -cc clang -strip llvm-strip -target amd64,arm64 offcpu offcpu.c -- -I/usr/include/x86_64-linux-gnu -I/usr/include
