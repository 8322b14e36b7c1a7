package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/trace-debug/kubectl-trace-debug/bpf/cpuprofile"
	"github.com/trace-debug/kubectl-trace-debug/bpf/symbols"
)

// nativeSideBySide measures --cpu on native code built without frame
// pointers, unwound by its call-frame information: the C target's
// (images/callers, -O2) rounds per CPU second with no profiler and with the
// sampler at 99 Hz unwinding every sample, alternated (root, local: the
// sampler and the unwinder are the runner's own packages); and the
// runner's peak memory profiling the C++ target in a pod.
func nativeSideBySide(client kubernetes.Interface, plugin, kubeconfig string) {
	dir, err := os.MkdirTemp("", "bench-native")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(dir)
	exe := filepath.Join(dir, "callers-c")
	if out, err := exec.Command("gcc", "-O2", "-o", exe, "images/callers/callers.c").CombinedOutput(); err != nil {
		fail(fmt.Errorf("build the C target: %v\n%s", err, out))
	}
	const rounds = 40000 // about 4 s of one CPU
	var none, profiled []float64
	for i := 0; i < 3; i++ {
		none = append(none, nativeRate(exe, rounds, false))
		profiled = append(profiled, nativeRate(exe, rounds, true))
	}
	fmt.Println("\n--cpu on native code without frame pointers (images/callers' C, -O2), side by side:")
	fmt.Printf("  unwound by .eh_frame at 99 Hz: %s of the unprofiled rounds per CPU second (medians of 3 alternated runs of %d rounds)\n",
		fig("native.hz99.per-cpu", fmt.Sprintf("%.3f", medianFloat(profiled)/medianFloat(none))), rounds)

	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "native"},
		Spec: corev1.PodSpec{TerminationGracePeriodSeconds: ptr.To[int64](0), Containers: []corev1.Container{{
			Name: "app", Image: "trace-debug.local/demo:1", ImagePullPolicy: corev1.PullNever, Command: []string{"/app/callers-cpp"},
		}}},
	}
	pods := client.CoreV1().Pods("default")
	_ = pods.Delete(context.Background(), "native", metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)})
	for i := 0; i < 60; i++ {
		if _, err := pods.Get(context.Background(), "native", metav1.GetOptions{}); err != nil {
			break
		}
		time.Sleep(time.Second)
	}
	if _, err := pods.Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		fail(fmt.Errorf("create the native pod: %w", err))
	}
	defer func() {
		_ = pods.Delete(context.Background(), "native", metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)})
	}()
	for i := 0; i < 120; i++ {
		if p, err := pods.Get(context.Background(), "native", metav1.GetOptions{}); err == nil && p.Status.Phase == corev1.PodRunning {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(plugin, "--kubeconfig", kubeconfig, "pod/native", "--cpu", "--duration", "8s", "-o", "folded")
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		fail(fmt.Errorf("--cpu on the native pod: %v\n%s", err, stderr.String()))
	}
	m := peakLine.FindStringSubmatch(stderr.String())
	if m == nil {
		fail(fmt.Errorf("no peak memory line:\n%s", stderr.String()))
	}
	kb, _ := strconv.Atoi(m[1] + m[2])
	fmt.Printf("  the runner profiling the C++ target in a pod for 8 s: peak %s\n", fig("native.peak", mb(int64(kb))))

	// From the command to the profile printed, a 3 s profile, alternated
	// with bpftrace's frame-pointer profile of the same pod through
	// trace-debug: what naming and unwinding by CFI add.
	run := func(args ...string) time.Duration {
		start := time.Now()
		var stderr bytes.Buffer
		cmd := exec.Command(plugin, append([]string{"--kubeconfig", kubeconfig, "pod/native", "--duration", "3s"}, args...)...)
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			fail(fmt.Errorf("%v on the native pod: %v\n%s", args, err, stderr.String()))
		}
		return time.Since(start)
	}
	var ours, theirs []float64
	for i := 0; i < 3; i++ {
		ours = append(ours, run("--cpu", "-o", "folded").Seconds())
		theirs = append(theirs, run("-e", "profile:hz:99 { @[ustack, kstack] = count(); }").Seconds())
	}
	fmt.Printf("  a 3 s profile, command to output: --cpu %s s, bpftrace's profile:hz:99 through trace-debug %s s (medians of 3 alternated)\n",
		fig("native.profile-time", fmt.Sprintf("%.2f", medianFloat(ours))), fig("native.bpftrace-time", fmt.Sprintf("%.2f", medianFloat(theirs))))
}

// nativeRate runs the C target for rounds rounds in a PID namespace of its
// own, sampled or not, and gives its rounds per CPU second.
func nativeRate(exe string, rounds int, sampled bool) float64 {
	cmd := exec.Command("unshare", "--pid", "--fork", "--kill-child", exe, strconv.Itoa(rounds))
	if err := cmd.Start(); err != nil {
		fail(err)
	}
	var target int
	for i := 0; i < 200 && target == 0; i++ {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", cmd.Process.Pid, cmd.Process.Pid))
		if f := strings.Fields(string(b)); len(f) > 0 {
			target, _ = strconv.Atoi(f[0])
		}
		time.Sleep(time.Millisecond)
	}
	if target == 0 {
		fail(fmt.Errorf("the C target did not start"))
	}
	if sampled {
		s, err := cpuprofile.Start(cpuprofile.Target{PIDNamespace: fmt.Sprintf("/proc/%d/ns/pid", target), Hz: 99,
			Process: func(uint32) (*symbols.Process, error) { return symbols.NewProcess("/proc", target) }})
		if err != nil {
			fail(fmt.Errorf("sample the C target: %w", err))
		}
		defer s.Close()
	}
	if err := cmd.Wait(); err != nil {
		fail(fmt.Errorf("the C target: %w", err))
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage) // the namespace's children: the target
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return float64(rounds) / cpu.Seconds()
}
