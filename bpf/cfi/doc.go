// Package cfi unwinds native frames by their call-frame information: the
// .eh_frame every x86-64 ELF file carries (it is what C++ exceptions and
// Rust panics unwind by, so -fomit-frame-pointer and -O2 keep it) and
// .debug_frame where present. A Table is one file's; its Rule at an
// address says where the frame's caller's registers are (the canonical
// frame address from rsp or rbp, the return address and the saved rbp
// relative to it), and Rule.Step takes one frame off a copy of the stack.
//
// The records are parsed by Delve's DWARF frame reader
// (github.com/go-delve/delve/pkg/dwarf/frame): a well-kept parser of both
// sections and of the CFA programs; this package only turns its rows into
// the three registers a user-space unwinder of a sampled stack needs, and
// caches them by address. Rows that need a DWARF expression (the PLT's
// CFA, a realigned stack) are not evaluated: Step says so, and the stack
// stops there rather than guess.
//
// It unwinds in user space, the perf way, from the registers and the copy
// of the stack each CPU sample carries (package cpuprofile's sampler):
// the kernel-side alternative (the OpenTelemetry profiler's, CFI tables
// turned into eBPF maps) would walk deeper stacks but keeps every mapped
// file's tables in kernel memory and needs a verifier-friendly table
// format of its own; a 16 KiB copy holds the native stacks of the
// workloads measured, and the unwinding costs the target nothing.
//
// Pod-only: it runs in the runner, in the tracer container; the client
// links none of it (boundary_test.go keeps it so).
package cfi
