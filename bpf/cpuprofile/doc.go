// Package cpuprofile samples the on-CPU stacks of one pod's processes: an
// eBPF program on a perf event per CPU (sampler.c, bpf2go), filtered in the
// kernel by the target's PID namespace, counts each distinct (process, user
// stack, kernel stack); samples the kernel could not record are counted by
// reason. It is the CPU profile engine's sampler (--cpu), and Name names
// the sampled stacks in the pod (through package symbols) as the
// stacks.Profile the client shows.
//
// Pod-only: it runs in the runner, in the tracer container; the client
// links none of it (boundary_test.go keeps it so).
package cpuprofile

//go:generate go tool bpf2go -tags linux -cc clang -strip llvm-strip -target amd64,arm64 sampler sampler.c -- -I/usr/include/x86_64-linux-gnu -I/usr/include
