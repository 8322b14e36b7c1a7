package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"time"

	"github.com/trace-debug/kubectl-trace-debug/internal/syncbuf"
)

// censusVersusWildcard runs the native census and bpftrace's sys_enter_*
// wildcard on the same pod and compares attach time and peak memory.
func censusVersusWildcard(plugin, kubeconfig, pod string) {
	fmt.Println("\nsyscall census vs bpftrace tracepoint:syscalls:sys_enter_* (same pod):")
	native, err := attachRun(plugin, kubeconfig, pod, "--syscalls")
	if err != nil {
		fail(fmt.Errorf("--syscalls: %w", err))
	}
	wildcard, err := attachRun(plugin, kubeconfig, pod, "-e", "tracepoint:syscalls:sys_enter_* { @[probe] = count(); }")
	if err != nil {
		fail(fmt.Errorf("sys_enter_*: %w", err))
	}
	fmt.Printf("  time to probes attached: --syscalls %s, sys_enter_* %s (%s)\n",
		fig("census.attach", secs(native.attach)), fig("census.wildcard-attach", secs(wildcard.attach)), fig("census.attach-ratio", times(float64(wildcard.attach)/float64(native.attach))))
	fmt.Printf("  peak memory in the pod:  --syscalls %s, bpftrace %s (%s)\n",
		fig("census.peak", mb(int64(native.peakKB))), fig("census.wildcard-peak", mb(int64(wildcard.peakKB))), fig("census.peak-ratio", fmt.Sprintf("%.0f×", float64(wildcard.peakKB)/float64(native.peakKB))))
}

type attachResult struct {
	attach time.Duration
	peakKB int
}

var peakLine = regexp.MustCompile(`peak memory of (?:the runner: (\d+) kB|bpftrace: (\d+) kB)`)

// attachRun starts a 1 s trace and returns the time until its ready file
// appears (probes attached) and the tracer's reported peak memory.
func attachRun(plugin, kubeconfig, pod string, engine ...string) (attachResult, error) {
	ready := filepath.Join(os.TempDir(), fmt.Sprintf("bench-ready-%d", time.Now().UnixNano()))
	defer os.Remove(ready)
	args := append([]string{"--kubeconfig", kubeconfig, "pod/" + pod, "--duration", "1s", "--start-timeout", "5m", "--ready-file", ready}, engine...)
	cmd := exec.Command(plugin, args...)
	var stderr syncbuf.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return attachResult{}, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var res attachResult
	var err error
wait:
	for {
		select {
		case err = <-done:
			break wait
		case <-time.After(2 * time.Millisecond):
			if _, statErr := os.Stat(ready); statErr == nil && res.attach == 0 {
				res.attach = time.Since(start)
			}
		}
	}
	if err != nil {
		return res, fmt.Errorf("%w\n%s", err, stderr.String())
	}
	m := peakLine.FindStringSubmatch(stderr.String())
	if m == nil || res.attach == 0 {
		return res, fmt.Errorf("no ready file or peak memory line:\n%s", stderr.String())
	}
	fmt.Sscan(m[1]+m[2], &res.peakKB)
	return res, nil
}
