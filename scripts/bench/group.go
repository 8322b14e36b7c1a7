package main

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// groupPods is the size of the Deployment a session over many pods traces.
const groupPods = 10

// groupSideBySide measures one session over the 10 pods of a Deployment
// (-l) against one session on one pod, alternated: the time until every
// pod has printed its first event, and the client's peak memory.
func groupSideBySide(client kubernetes.Interface, plugin, kubeconfig string, runs int) {
	label := fmt.Sprintf("bench-group-%d", time.Now().UnixNano())
	one := label + "-one"
	if err := freshPod(client, one); err != nil {
		fail(err)
	}
	defer client.CoreV1().Pods("default").Delete(context.Background(), one, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)})
	deps := client.AppsV1().Deployments("default")
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: label},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](groupPods),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"bench": label}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"bench": label}},
				Spec: corev1.PodSpec{
					HostNetwork: true, TerminationGracePeriodSeconds: ptr.To[int64](0),
					Containers: []corev1.Container{{Name: "server", Image: "trace-debug.local/demo:1", ImagePullPolicy: corev1.PullNever,
						Command: []string{"/app/server", "-listen", "127.0.0.1:0"}}},
				},
			},
		},
	}
	ctx := context.Background()
	if _, err := deps.Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		fail(err)
	}
	defer deps.Delete(context.Background(), label, metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationForeground), GracePeriodSeconds: ptr.To[int64](0)})
	if err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		d, err := deps.Get(ctx, label, metav1.GetOptions{})
		return err == nil && d.Status.ReadyReplicas == groupPods, nil
	}); err != nil {
		fail(fmt.Errorf("deployment %s: %w", label, err))
	}
	var ones, groups []time.Duration
	var oneKB, groupKB int64
	for i := 0; i < runs; i++ {
		d, kb, err := everyFirstEvent(plugin, 1, "--kubeconfig", kubeconfig, "pod/"+one, "-e", program)
		if err != nil {
			fail(fmt.Errorf("one pod, run %d: %w", i, err))
		}
		ones, oneKB = append(ones, d), max(oneKB, kb)
		d, kb, err = everyFirstEvent(plugin, groupPods, "--kubeconfig", kubeconfig, "-l", "bench="+label, "-e", program)
		if err != nil {
			fail(fmt.Errorf("%d pods, run %d: %w", groupPods, i, err))
		}
		groups, groupKB = append(groups, d), max(groupKB, kb)
	}
	mo, mg := median(ones), median(groups)
	fmt.Printf("\none session over the %d pods of a Deployment (-l) against one pod, median of %d (program %q):\n", groupPods, runs, program)
	fmt.Printf("  time until every pod printed its first event: %d pods %s, one pod %s (%s)\n", groupPods, fig("group.all", secs(mg)), fig("group.one", secs(mo)),
		fig("group.ratio", fmt.Sprintf("%.1f×", float64(mg)/float64(mo))))
	fmt.Printf("  the client's peak memory: %d pods %s, one pod %s\n", groupPods, fig("group.client-peak", mb(int64(groupKB))), fig("group.client-peak-one", mb(int64(oneKB))))
}

// everyFirstEvent runs the plugin and returns the time until n event lines
// were printed (one per pod) and the client's peak memory.
func everyFirstEvent(plugin string, n int, args ...string) (time.Duration, int64, error) {
	cmd := exec.Command(plugin, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, 0, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	var took time.Duration
	seen := 0
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if strings.Contains(sc.Text(), "first-event") {
			if seen++; seen == n {
				took = time.Since(start)
			}
		}
	}
	if err := cmd.Wait(); err != nil {
		return 0, 0, fmt.Errorf("plugin: %w", err)
	}
	if seen < n {
		return 0, 0, fmt.Errorf("%d of %d pods printed the event", seen, n)
	}
	return took, cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss, nil
}
