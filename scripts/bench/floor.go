package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"
)

// floorSideBySide compares trace-debug's time to first event with the
// floor: the same bpftrace started by hand with `kubectl debug -i
// --profile=sysadmin --target` (a shell mounts tracefs, then execs
// bpftrace), alternating runs on fresh pods.
func floorSideBySide(client kubernetes.Interface, plugin, kubectl, kubeconfig string, runs int) {
	pods := freshPods(client, "bench-floor", 2*runs)
	defer deletePods(client, pods)
	var ours, byHand []time.Duration
	for i := 0; i < runs; i++ {
		p, err := viaPlugin(plugin, kubeconfig, pods[2*i], "")
		if err != nil {
			fail(fmt.Errorf("trace-debug run %d: %w", i, err))
		}
		h, err := viaKubectlDebug(kubectl, kubeconfig, pods[2*i+1])
		if err != nil {
			fail(fmt.Errorf("by-hand run %d: %w", i, err))
		}
		fmt.Printf("run %d: trace-debug %v, by hand %v\n", i+1, p.Round(time.Millisecond), h.Round(time.Millisecond))
		ours, byHand = append(ours, p), append(byHand, h)
	}
	mo, mh := median(ours), median(byHand)
	fmt.Printf("\ntime to first event on a fresh pod, median of %d (program %q):\n", runs, program)
	fmt.Printf("  trace-debug:                              %s\n", fig("floor.trace-debug", secs(mo)))
	fmt.Printf("  by hand (kubectl debug, same bpftrace):   %s\n", fig("floor.by-hand", secs(mh)))
	fmt.Printf("  ratio: trace-debug takes %s the by-hand floor\n\n", fig("floor.ratio", times(float64(mo)/float64(mh))))
}

// byHandProgram is program without its exit(): `kubectl debug -i` shows
// only what comes after it has attached, so a program that printed its one
// line and ended before that would show nothing; the tracer left running
// ends with its fresh pod.
const byHandProgram = `interval:ms:10 { printf("first-event\n"); }`

// viaKubectlDebug starts the by-hand image in pod with kubectl debug and
// returns the time until the program's first event is shown.
func viaKubectlDebug(kubectl, kubeconfig, pod string) (time.Duration, error) {
	image := strings.Replace(defaultImage(), "ghcr.io/kubectl-trace-debug/runner:", "trace-debug.local/bpftrace-byhand:", 1)
	cmd := exec.Command(kubectl, "--kubeconfig", kubeconfig, "debug", "-i", "-q", "pod/"+pod, "--profile=sysadmin",
		"--target=server", "--image="+image, "--image-pull-policy=Never", "--",
		"/usr/bin/sh", "-c", `mount -t tracefs tracefs /sys/kernel/tracing && exec /usr/bin/bpftrace -e "$0"`, byHandProgram)
	// A person's terminal keeps stdin open; kubectl debug -i stops showing
	// output when its stdin ends.
	stdin, keep, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	defer keep.Close()
	defer stdin.Close()
	cmd.Stdin = stdin
	return untilFirstEvent(cmd, true)
}
