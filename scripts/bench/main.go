// Command bench is `make bench`: measurements, each a ratio against the
// alternative run side by side in the same run. It is a benchmark, not a test.
//
//  1. Time to first event on the local cluster: `kubectl-trace_debug pod/NAME
//     -e PROGRAM` (an ephemeral container in the running pod) against the
//     kubectl-trace way, a Job pinned to the node with hostPID running the
//     same runner and bpftrace from the same image (it mounts tracefs, which
//     the newer bpftrace needs), its output followed from the pod log.
//     Alternated; medians and their ratio.
//  2. The syscall census (--syscalls) against bpftrace's
//     tracepoint:syscalls:sys_enter_* on the same pod: time until the probes
//     are attached (--ready-file) and the tracer's peak memory in the pod.
//  3. Per-call cost of the Go function tracer's entry+RET probes on a tight
//     loop, against the same loop with no probe, with one bare uprobe and
//     with bpftrace running the runner's rewrite of a uretprobe.
//  4. The runner image (newest bpftrace Debian ships) against the 0.17
//     image: time to first event on fresh pods, and the seed's sys_enter_*
//     with --duration 3s from command start to exit, with peak memory.
//  5. One session over the 10 pods of a Deployment (-l) against one pod:
//     time until every pod printed its first event, the client's memory.
//  6. Time to first event against its floor: the same bpftrace started by
//     hand with kubectl debug on fresh pods, alternated, 7 runs each.
//  7. The seed's syscall wildcard, rewritten into one probe, against its
//     original form of 360 tracepoints and a one-probe program.
//  8. The CPU profile (--cpu) of a CPU-bound stripped Go target: its
//     throughput with and without the profiler at 99 and 999 Hz, the
//     runner's memory, the time to the first sample, against bpftrace's
//     profile:hz:99 in the same pod (time, memory, frames it could name).
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"

	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
)

const program = `interval:ms:10 { printf("first-event\n"); exit(); }`

func main() {
	kubeconfig := flag.String("kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig of the local cluster")
	plugin := flag.String("plugin", "_output/bin/kubectl-trace_debug", "the plugin binary")
	image := flag.String("image", "", "runner image (both ways)")
	pod := flag.String("pod", "demo", "pod to trace (namespace default)")
	node := flag.String("node", "trace-debug-node", "node the Job is pinned to")
	runs := flag.Int("runs", 5, "runs of each way")
	kubectl := flag.String("kubectl", "kubectl", "kubectl, for the by-hand floor")
	only := flag.String("only", "", "run one comparison only: floor, wildcard, cpu, native, agree, goroutines, heap, offcpu or images (developers' reruns)")
	flag.Parse()
	defer func() { // the results file: after every comparison (deferred first, run last)
		path, err := results.write(*only != "")
		if err != nil {
			fail(fmt.Errorf("write the results: %w", err))
		}
		fmt.Printf("\nresults written to %s: README quotes them (readme_test.go checks)\n", path)
	}()
	switch *only {
	case "cpu":
		cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
		if err != nil {
			fail(err)
		}
		cpuSideBySide(kubernetes.NewForConfigOrDie(cfg), *plugin, *kubeconfig)
		return
	case "wildcard":
		wildcardSideBySide(*plugin, *kubeconfig)
		return
	case "images":
		imageSizes("_output/images")
		return
	case "offcpu":
		switchCost()
		return
	case "heap":
		cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
		if err != nil {
			fail(err)
		}
		heapSideBySide(kubernetes.NewForConfigOrDie(cfg), *plugin, *kubeconfig)
		return
	case "native":
		cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
		if err != nil {
			fail(err)
		}
		nativeSideBySide(kubernetes.NewForConfigOrDie(cfg), *plugin, *kubeconfig)
		return
	case "goroutines":
		cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
		if err != nil {
			fail(err)
		}
		goroutinesSideBySide(kubernetes.NewForConfigOrDie(cfg), *plugin, *kubeconfig)
		wallSideBySide(kubernetes.NewForConfigOrDie(cfg), *plugin, *kubeconfig)
		return
	case "agree":
		cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
		if err != nil {
			fail(err)
		}
		agreeSideBySide(kubernetes.NewForConfigOrDie(cfg), *plugin, *kubeconfig)
		return
	case "floor":
		cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
		if err != nil {
			fail(err)
		}
		floorSideBySide(kubernetes.NewForConfigOrDie(cfg), *plugin, *kubectl, *kubeconfig, 7)
		return
	}
	defer imageSizes("_output/images")
	defer perCallCost()
	defer switchCost()
	defer func() {
		cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
		if err != nil {
			fail(err)
		}
		cpuSideBySide(kubernetes.NewForConfigOrDie(cfg), *plugin, *kubeconfig)
		nativeSideBySide(kubernetes.NewForConfigOrDie(cfg), *plugin, *kubeconfig)
		agreeSideBySide(kubernetes.NewForConfigOrDie(cfg), *plugin, *kubeconfig)
		goroutinesSideBySide(kubernetes.NewForConfigOrDie(cfg), *plugin, *kubeconfig)
		wallSideBySide(kubernetes.NewForConfigOrDie(cfg), *plugin, *kubeconfig)
		heapSideBySide(kubernetes.NewForConfigOrDie(cfg), *plugin, *kubeconfig)
	}()
	defer censusVersusWildcard(*plugin, *kubeconfig, *pod)
	defer wildcardSideBySide(*plugin, *kubeconfig)
	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		fail(err)
	}
	client := kubernetes.NewForConfigOrDie(cfg)
	defer groupSideBySide(client, *plugin, *kubeconfig, *runs)
	defer floorSideBySide(client, *plugin, *kubectl, *kubeconfig, 7)
	defer imagesSideBySide(client, *plugin, *kubeconfig, *runs)
	var plugins, jobs []time.Duration
	for i := 0; i < *runs; i++ {
		p, err := viaPlugin(*plugin, *kubeconfig, *pod, *image)
		if err != nil {
			fail(fmt.Errorf("trace-debug run %d: %w", i, err))
		}
		j, err := viaJob(client, *node, *image, i)
		if err != nil {
			fail(fmt.Errorf("job run %d: %w", i, err))
		}
		fmt.Printf("run %d: trace-debug %v, job %v\n", i+1, p.Round(time.Millisecond), j.Round(time.Millisecond))
		plugins, jobs = append(plugins, p), append(jobs, j)
	}
	mp, mj := median(plugins), median(jobs)
	fmt.Printf("\ntime to first event, median of %d (program %q):\n", *runs, program)
	fmt.Printf("  trace-debug (ephemeral container): %s\n", fig("ttfe.trace-debug", secs(mp)))
	fmt.Printf("  a Job on the node (same runner):   %s\n", fig("ttfe.job", secs(mj)))
	fmt.Printf("  ratio job / trace-debug:           %s\n", fig("ttfe.job-ratio", times(float64(mj)/float64(mp))))
}

// viaPlugin runs the plugin and returns the time until the event's line.
func viaPlugin(plugin, kubeconfig, pod, image string) (time.Duration, error) {
	args := []string{"--kubeconfig", kubeconfig, "pod/" + pod, "-e", program}
	if image != "" {
		args = append(args, "--image", image)
	}
	return untilFirstEvent(exec.Command(plugin, args...), false)
}

// untilFirstEvent runs cmd and returns the time from its start until it
// printed the program's event; cmd must exit 0, or, with kill, is killed
// once it has printed the event.
func untilFirstEvent(cmd *exec.Cmd, kill bool) (time.Duration, error) {
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	cmd.Stderr = io.Discard
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	took, found := firstEvent(out, start, !kill)
	if kill {
		_ = cmd.Process.Kill()
	}
	if err := cmd.Wait(); err != nil && !kill {
		return 0, fmt.Errorf("%s: %w", filepath.Base(cmd.Path), err)
	}
	if !found {
		return 0, fmt.Errorf("no event printed")
	}
	return took, nil
}

// viaJob creates the Job, follows its pod's log and returns the time until
// the event's line; the Job is deleted afterwards.
func viaJob(client kubernetes.Interface, node, image string, i int) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if image == "" {
		image = defaultImage()
	}
	name := fmt.Sprintf("bench-trace-job-%d-%d", time.Now().Unix(), i)
	jobs := client.BatchV1().Jobs("default")
	start := time.Now()
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: batchv1.JobSpec{
			BackoffLimit: ptr.To[int32](0),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"bench": name}},
				Spec: corev1.PodSpec{
					NodeName: node, HostPID: true, HostNetwork: true, RestartPolicy: corev1.RestartPolicyNever,
					TerminationGracePeriodSeconds: ptr.To[int64](0),
					Containers: []corev1.Container{{
						Name: "bpftrace", Image: image, ImagePullPolicy: corev1.PullIfNotPresent,
						Command:         []string{protocol.RunnerPath},
						Args:            jobSession().Args(),
						SecurityContext: &corev1.SecurityContext{Privileged: ptr.To(true)},
					}},
				},
			},
		},
	}
	if _, err := jobs.Create(ctx, job, metav1.CreateOptions{}); err != nil {
		return 0, err
	}
	defer jobs.Delete(context.Background(), name, metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)})
	// Follow the log as kubectl-trace does: find the pod, wait until its
	// container has started, stream.
	for {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		pods, err := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "bench=" + name})
		if err == nil && len(pods.Items) == 1 && len(pods.Items[0].Status.ContainerStatuses) == 1 {
			st := pods.Items[0].Status.ContainerStatuses[0].State
			if st.Running != nil || st.Terminated != nil {
				rc, err := client.CoreV1().Pods("default").GetLogs(pods.Items[0].Name, &corev1.PodLogOptions{Follow: true}).Stream(ctx)
				if err != nil {
					return 0, err
				}
				defer rc.Close()
				if took, found := firstEvent(rc, start, true); found {
					return took, nil
				}
				return 0, fmt.Errorf("no event in the Job's log")
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// jobSession is what the Job's runner does: the same program, detached (no
// client to wait for), node-wide (the Job is not in the pod).
func jobSession() protocol.Session {
	s := protocol.DefaultSession()
	s.Program, s.NodeWide, s.Deadline = program, true, time.Minute
	return s
}

// firstEvent reads lines until the event's and returns the time since start.
func firstEvent(r io.Reader, start time.Time, drain bool) (time.Duration, bool) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if strings.Contains(sc.Text(), "first-event") {
			took := time.Since(start)
			if drain {
				_, _ = io.Copy(io.Discard, r)
			}
			return took, true
		}
	}
	return 0, false
}

func defaultImage() string {
	v, err := os.ReadFile("VERSION")
	if err != nil {
		fail(err)
	}
	return "ghcr.io/kubectl-trace-debug/runner:" + strings.TrimSpace(string(v))
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// fail reports err and ends the run; no results are written.
func fail(err error) {
	fmt.Fprintf(os.Stderr, "bench: %v\n", err)
	os.Exit(1)
}
