// Package syscalls is the native syscall census of kubectl trace-debug: one
// raw tracepoint program (census.c, compiled with bpf2go and loaded with
// cilium/ebpf) counts the system calls of the target container's PID
// namespace by syscall and thread name. It attaches in milliseconds, where
// bpftrace's tracepoint:syscalls:sys_enter_* attaches hundreds of probes.
//
// Pod-only: it runs in the runner, in the tracer container; the client
// links none of it (boundary_test.go keeps it so).
package syscalls

//go:generate go tool bpf2go -tags linux -cc clang -strip llvm-strip -target amd64,arm64 census census.c -- -I/usr/include/x86_64-linux-gnu -I/usr/include
//go:generate ./gen_names.sh
