// Package offcpu measures where the threads of a pod's processes wait:
// an eBPF program on the scheduler's sched_switch tracepoint (offcpu.c,
// bpf2go; no kprobes), filtered in the kernel by the target's PID
// namespace and by the processes asked for, adds up the time each thread
// spends off the CPU by (process, state, system call, user stack, and the
// kernel's stack for an uninterruptible wait). Their time on the CPU is
// the kernel's own count (schedstat), read from /proc. It is how the
// wall-clock profile (--wall) sees the processes of a pod that are not
// Go, whose goroutines it cannot read.
//
// Walking a stack is most of what the program costs a thread that leaves
// the CPU (measured in make bench: a ping-pong over pipes), so the
// kernel's stack is walked only for uninterruptible waits (the disk, a
// page fault: where the system call does not say why), and a thread that
// leaves again from the same system call in the same state within a
// millisecond is counted on the user stack it had then. A context switch
// the program does not see (it happens, rarely) loses that wait's time,
// never counts it twice.
//
// A thread asleep since before the window is known from /proc (its state,
// its system call, its kernel stack), not its user stack: the kernel
// records that when the thread leaves the CPU. User stacks are walked by
// frame pointers.
//
// Pod-only: it runs in the runner, in the tracer container; the client
// links none of it (boundary_test.go keeps it so).
package offcpu

//go:generate go tool bpf2go -tags linux -cc clang -strip llvm-strip -target amd64,arm64 offcpu offcpu.c -- -I/usr/include/x86_64-linux-gnu -I/usr/include
