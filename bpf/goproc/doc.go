// Package goproc reads a running Go process from outside, as its own
// runtime would describe it, without stopping it or writing into it: its
// memory through /proc/PID/mem, its runtime's globals found in a binary
// without a symbol table from the instructions of the runtime functions
// that use them (golang.org/x/arch decodes them; .gopclntab, read by
// package gofunc, finds the functions), its structures' layouts from a
// table per Go release (layouts_table.go, made by gen_layouts.go from the
// DWARF of a program each release's toolchain builds, and checked against
// those builds in tests). It is the one reader of a Go process's memory:
// its goroutines (--goroutines, --wall) and its memory profile's records
// (--heap, --alloc: runtime.mbuckets, found in runtime.mProf_FlushLocked;
// runtime.MemProfileRate and runtime.disableMemoryProfiling, in
// runtime.schedinit).
// Goroutines move while they are read: what is read is validated (status
// read twice, stack bounds) and what does not hold is dropped and counted.
//
// Pod-only: it runs in the runner, in the tracer container; the client
// links none of it (boundary_test.go keeps it so).
package goproc

//go:generate go run gen_layouts.go
