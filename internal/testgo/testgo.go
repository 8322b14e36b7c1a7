// Package testgo builds small Go programs for the tests and benchmarks that
// trace real Go processes.
package testgo

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Toolchains are the Go releases whose programs the Go process reader
// supports, the newest patch of each: the module proxy serves each as
// golang.org/toolchain, which GOTOOLCHAIN fetches.
var Toolchains = []string{"go1.21.13", "go1.22.12", "go1.23.12", "go1.24.11", "go1.25.5", "go1.26.8", "go1.27.3"}

// MixFuncs are the functions of the demo server's -mix workload
// (images/demo/mix.go), and what a CPU profile is asked first (is it GC,
// is it system calls): the functions a profile of it is held to Go's own
// by.
var MixFuncs = []string{"main.mixLeaves", "main.mixCrypto", "main.mixMaps", "main.mixSort", "main.mixJSON", "main.mixSyscalls",
	"runtime.gcBgMarkWorker", "runtime.mallocgc", "syscall.Syscall"}

// Build writes src as the main package of a new module in dir, builds it
// with the extra go build flags (e.g. "-ldflags=-s -w" to strip it) and
// returns the executable's path.
func Build(dir, src string, flags ...string) (string, error) {
	return BuildWith(dir, "", src, flags...)
}

// BuildWith is Build with the Go toolchain named (go1.21.13; "" is the
// one running).
func BuildWith(dir, toolchain, src string, flags ...string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
		return "", err
	}
	lang := "1.22"
	if toolchain != "" {
		lang = "1.21" // the oldest supported: every toolchain builds it
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module target\n\ngo "+lang+"\n"), 0o644); err != nil {
		return "", err
	}
	args := append([]string{"build", "-o", "target"}, flags...)
	cmd := exec.Command("go", append(args, ".")...)
	cmd.Dir = dir
	if toolchain != "" {
		cmd.Env = append(os.Environ(), "GOTOOLCHAIN="+toolchain)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build %s: %w\n%s", dir, err, out)
	}
	return filepath.Join(dir, "target"), nil
}

// Spinner is a CPU-bound program that spends its time in main.spin, a
// frameless leaf called from main.main: the target of the CPU profile's
// tests.
const Spinner = `package main

//go:noinline
func spin(n int) int {
	x := 0
	for i := 0; i < n; i++ {
		x ^= i * 7
	}
	return x
}

func main() {
	s := 0
	for {
		s += spin(1 << 20)
	}
}
`
