// Package gofunc is the native engine's Go function tracer (--func): for each
// function it attaches a uprobe at the entry and one at every RET instruction
// of the target's executable, found by decoding the function's machine code
// (x86asm, arm64asm), and reports each call's results, read from the Go
// ABIInternal registers, and duration, paired by goroutine. A uretprobe
// would crash the Go program; these probes never change its stack.
//
// Functions are found in the ELF symbol table, or in a stripped binary's
// .gopclntab (its text start taken from runtime.text or the module data).
//
// Pod-only: it runs in the runner, in the tracer container; the client
// links none of it (boundary_test.go keeps it so).
package gofunc

//go:generate go tool bpf2go -tags linux -cc clang -strip llvm-strip -target amd64,arm64 -type event gofunc gofunc.c -- -I/usr/include/x86_64-linux-gnu -I/usr/include
