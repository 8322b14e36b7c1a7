package main

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// floorSideBySide compares trace-debug's time to first event with the
// floor: the same bpftrace started by hand with `kubectl debug -i
// --profile=sysadmin --target` (a shell mounts tracefs, then execs
// bpftrace), alternating runs on fresh pods.
func floorSideBySide(client kubernetes.Interface, plugin, kubectl, kubeconfig string, runs int) {
	var pods []string
	for i := 0; i < 2*runs; i++ {
		pod := fmt.Sprintf("bench-floor-%d-%d", time.Now().UnixNano(), i)
		if err := freshPod(client, pod); err != nil {
			fail(err)
		}
		pods = append(pods, pod)
	}
	defer func() {
		for _, pod := range pods {
			_ = client.CoreV1().Pods("default").Delete(context.Background(), pod, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)})
		}
	}()
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
	fmt.Printf("  trace-debug:                              %v\n", mo.Round(time.Millisecond))
	fmt.Printf("  by hand (kubectl debug, same bpftrace):   %v\n", mh.Round(time.Millisecond))
	fmt.Printf("  ratio: trace-debug takes %.2fx the by-hand floor\n\n", float64(mo)/float64(mh))
}

// viaKubectlDebug starts the by-hand image in pod with kubectl debug and
// returns the time until the program's first event.
func viaKubectlDebug(kubectl, kubeconfig, pod string) (time.Duration, error) {
	image := strings.Replace(defaultImage(), "ghcr.io/kubectl-trace-debug/runner:", "trace-debug.local/bpftrace-byhand:", 1)
	cmd := exec.Command(kubectl, "--kubeconfig", kubeconfig, "debug", "-i", "-q", "pod/"+pod, "--profile=sysadmin",
		"--target=server", "--image="+image, "--image-pull-policy=Never", "--",
		"/usr/bin/sh", "-c", `mount -t tracefs tracefs /sys/kernel/tracing && exec /usr/bin/bpftrace -e "$0"`, program)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	cmd.Stderr = io.Discard
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	took, found := firstEvent(out, start)
	_ = cmd.Wait()
	if !found {
		return 0, fmt.Errorf("no event printed")
	}
	return took, nil
}
