package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/trace-debug/kubectl-trace-debug/bpf/runner"
	"github.com/trace-debug/kubectl-trace-debug/internal/syncbuf"
	"github.com/trace-debug/kubectl-trace-debug/internal/testgo"
)

// oldImage is the runner with Debian 12's bpftrace 0.17.
func oldImage() string {
	return strings.Replace(defaultImage(), "ghcr.io/kubectl-trace-debug/runner:", "trace-debug.local/runner-bpftrace017:", 1)
}

// imagesSideBySide compares the runner image (the newest bpftrace Debian
// ships) with the 0.17 image, alternating runs: time to first event on a
// fresh pod, and the seed's sys_enter_* program with --duration 3s from the
// command's start to its exit, with bpftrace's peak memory in the pod.
func imagesSideBySide(client kubernetes.Interface, plugin, kubeconfig string, runs int) {
	images := []struct{ name, ref string }{{"new image", defaultImage()}, {"0.17 image", oldImage()}}
	ttfe := map[string][]time.Duration{}
	peak := map[string]int{}
	// Every fresh pod is made first and removed last: a pod being created
	// or deleted keeps the kubelet busy and would slow the next run.
	pods := freshPods(client, "bench-fresh", runs*len(images))
	defer deletePods(client, pods)
	for i := 0; i < runs; i++ {
		for j, img := range images {
			took, err := viaPlugin(plugin, kubeconfig, pods[i*len(images)+j], img.ref)
			if err != nil {
				fail(fmt.Errorf("%s run %d: %w", img.name, i, err))
			}
			ttfe[img.name] = append(ttfe[img.name], took)
			time.Sleep(2 * time.Second) // the previous tracer's end is the kubelet's work too
		}
	}
	fmt.Printf("\ntime to first event on a fresh pod, median of %d (program %q):\n", runs, program)
	for i, img := range images {
		fmt.Printf("  %-11s %s\n", img.name+":", fig([]string{"fresh.new", "fresh.017"}[i], secs(median(ttfe[img.name]))))
	}
	fmt.Printf("  ratio new / 0.17: %s\n", fig("fresh.ratio", times(float64(median(ttfe["new image"]))/float64(median(ttfe["0.17 image"])))))
	busy := busyPodTTFE(client, plugin, kubeconfig, runs)
	fmt.Printf("  new image, back to back on a pod holding 20 earlier sessions: %s (%s the fresh pod)\n",
		fig("fresh.busy", secs(busy)), fig("fresh.busy-ratio", times(float64(busy)/float64(median(ttfe["new image"])))))

	fmt.Println("\nthe seed's tracepoint:syscalls:sys_enter_* with --duration 3s (demo pod), command start to exit:")
	var took [2]time.Duration
	for i, img := range images {
		d, attached, kb, err := boundedRun(plugin, kubeconfig, "demo", img.ref)
		if err != nil {
			fail(fmt.Errorf("%s: %w", img.name, err))
		}
		took[i], peak[img.name] = d, kb
		key := []string{"seed3s.new", "seed3s.017"}[i]
		fmt.Printf("  %-11s %s (probes attached after %s; bpftrace peak memory %s)\n", img.name+":", fig(key+".exit", fmt.Sprintf("%.1f s", d.Seconds())),
			fig(key+".attached", secs(attached)), fig(key+".peak", mb(int64(kb))))
	}
	fmt.Printf("  ratio 0.17 / new: %s\n", fig("seed3s.ratio", fmt.Sprintf("%.1f×", float64(took[1])/float64(took[0]))))
}

// busyPodTTFE gives a fresh pod 20 short sessions, then measures the time
// to first event of runs that follow each other at once (median).
func busyPodTTFE(client kubernetes.Interface, plugin, kubeconfig string, runs int) time.Duration {
	pod := fmt.Sprintf("bench-busy-%d", time.Now().UnixNano())
	if err := freshPod(client, pod); err != nil {
		fail(err)
	}
	defer client.CoreV1().Pods("default").Delete(context.Background(), pod, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)})
	for i := 0; i < 20; i++ {
		if out, err := exec.Command(plugin, "--kubeconfig", kubeconfig, "pod/"+pod, "--syscalls", "--duration", "100ms").CombinedOutput(); err != nil {
			fail(fmt.Errorf("session %d on %s: %w\n%s", i, pod, err, out))
		}
	}
	var took []time.Duration
	for i := 0; i < runs; i++ {
		d, err := viaPlugin(plugin, kubeconfig, pod, defaultImage())
		if err != nil {
			fail(err)
		}
		took = append(took, d)
	}
	return median(took)
}

// freshPods makes n fresh demo pods named PREFIX-TIME-I, each Running.
func freshPods(client kubernetes.Interface, prefix string, n int) []string {
	var pods []string
	for i := 0; i < n; i++ {
		pod := fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano(), i)
		if err := freshPod(client, pod); err != nil {
			fail(err)
		}
		pods = append(pods, pod)
	}
	return pods
}

// deletePods removes the pods at once.
func deletePods(client kubernetes.Interface, pods []string) {
	for _, pod := range pods {
		_ = client.CoreV1().Pods("default").Delete(context.Background(), pod, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)})
	}
}

// freshPod creates a demo pod without sessions and waits until it runs.
func freshPod(client kubernetes.Interface, name string) error {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{
			HostNetwork:                   true,
			TerminationGracePeriodSeconds: ptr.To[int64](0),
			Containers: []corev1.Container{{Name: "server", Image: "trace-debug.local/demo:1", ImagePullPolicy: corev1.PullNever,
				Command: []string{"/app/server", "-listen", "127.0.0.1:0"}}},
		},
	}
	ctx := context.Background()
	if _, err := client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		return err
	}
	return wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		p, err := client.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		return err == nil && p.Status.Phase == corev1.PodRunning, nil
	})
}

var bpftracePeak = regexp.MustCompile(`peak memory of bpftrace: (\d+) kB`)

// boundedRun runs sys_enter_* for 3 s and returns the command's run time,
// when the probes were attached and bpftrace's peak memory.
func boundedRun(plugin, kubeconfig, pod, image string) (took, attached time.Duration, peakKB int, err error) {
	return boundedProgram(plugin, kubeconfig, pod, image, seedWildcard)
}

// seedWildcard is the seed tutorial's first program.
const seedWildcard = "tracepoint:syscalls:sys_enter_* { @[probe] = count(); }"

// boundedProgram runs program for 3 s, as boundedRun does.
func boundedProgram(plugin, kubeconfig, pod, image, program string) (took, attached time.Duration, peakKB int, err error) {
	ready := filepath.Join(os.TempDir(), fmt.Sprintf("bench-ready-%d", time.Now().UnixNano()))
	defer os.Remove(ready)
	cmd := exec.Command(plugin, "--kubeconfig", kubeconfig, "pod/"+pod, "--image", image, "--duration", "3s", "--ready-file", ready,
		"-e", program)
	var stderr syncbuf.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, 0, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		select {
		case err := <-done:
			took = time.Since(start)
			if err != nil {
				return 0, 0, 0, fmt.Errorf("%w\n%s", err, stderr.String())
			}
			if m := bpftracePeak.FindStringSubmatch(stderr.String()); m != nil {
				peakKB, _ = strconv.Atoi(m[1])
			}
			return took, attached, peakKB, nil
		case <-time.After(5 * time.Millisecond):
			if _, statErr := os.Stat(ready); statErr == nil && attached == 0 {
				attached = time.Since(start)
			}
		}
	}
}

// rewrittenUretprobeCost times the loop with the runner's rewrite of
// `uretprobe:EXE:"main.work"` run by the image's bpftrace (uprobes at each
// RET), locally, in a mount namespace of its own with tracefs.
func rewrittenUretprobeCost(exe string) float64 {
	c, err := runner.Compose(fmt.Sprintf(`uretprobe:%s:"main.work" { @n = count(); }`, exe),
		runner.ComposeOptions{Features: runner.FeaturesOf("0.27.1")}, runner.FileBinaries{})
	if err != nil {
		fail(err)
	}
	bt, _ := filepath.Abs("scripts/bpftrace-sid")
	args := append([]string{"--mount", "--propagation", "private", "sh", "-c", `mount -t tracefs none /sys/kernel/tracing && exec "$0" "$@"`, bt}, c.Args...)
	tracer := exec.Command("unshare", append(args, "-e", c.Program)...)
	stderr, err := tracer.StderrPipe()
	if err != nil {
		fail(err)
	}
	if err := tracer.Start(); err != nil {
		fail(err)
	}
	defer func() { _ = tracer.Process.Kill(); _ = tracer.Wait() }()
	sc := bufio.NewScanner(stderr)
	for sc.Scan() && !strings.Contains(sc.Text(), "Attached") {
	}
	go func() { // drain
		for sc.Scan() {
		}
	}()
	return loopRun(exe, nil)
}

// loopBinary builds the tight loop of perCallCost.
func loopBinary(dir string) string {
	exe, err := testgo.Build(dir, loopSource)
	if err != nil {
		fail(err)
	}
	return exe
}
