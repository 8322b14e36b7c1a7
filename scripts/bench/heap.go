package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/trace-debug/kubectl-trace-debug/bpf/goproc"
)

// heapLine is the runner's account of a --heap reading.
var heapLine = regexp.MustCompile(`memory profiles of \d+ Go processes read in ([0-9.]+)(ms|s): \d+ stacks; peak memory of the runner: (\d+) kB`)

// heapPort is where the bench's memory-holding target serves.
const heapPort = 18112

// heapSideBySide measures --heap on a stripped Go target holding 1 GiB
// (images/parked, go1.27.3, -cache 1024 -churn): how long a reading takes
// and the runner's peak, 3 runs; and what reading costs a CPU-bound
// target (the stripped demo server, -burn): its work per CPU second while
// the runner's reader (package goproc, from this node: the pod's tracer
// reads the same way) reads its memory profile ten times a second through
// a window (a session reads once or twice), against none, alternated.
func heapSideBySide(client kubernetes.Interface, plugin, kubeconfig string) {
	if err := demoPod(client, "hoard", heapPort, "/app/parked-go1.27", "-n", "10", "-cache", "1024", "-churn"); err != nil {
		fail(err)
	}
	defer func() {
		_ = client.CoreV1().Pods("default").Delete(context.Background(), "hoard", metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)})
	}()
	fmt.Println("\n--heap on a stripped Go target holding 1 GiB (images/parked, go1.27.3, -cache 1024 -churn), 3 runs:")
	var reads []float64
	peak := 0
	for i := 0; i < 3; i++ {
		out, err := exec.Command(plugin, "--kubeconfig", kubeconfig, "pod/hoard", "--heap").CombinedOutput()
		m := heapLine.FindStringSubmatch(string(out))
		if err != nil || m == nil {
			fail(fmt.Errorf("--heap: %v\n%s", err, out))
		}
		took, _ := strconv.ParseFloat(m[1], 64)
		if m[2] == "ms" {
			took /= 1000
		}
		kb, _ := strconv.Atoi(m[3])
		reads, peak = append(reads, took), max(peak, kb)
	}
	fmt.Printf("  a reading took %s (median), runner peak %s\n",
		fig("heap.read", secs(time.Duration(medianFloat(reads)*float64(time.Second)))), fig("heap.peak", mb(int64(peak))))

	if err := burnerPod(client); err != nil {
		fail(err)
	}
	defer func() {
		_ = client.CoreV1().Pods("default").Delete(context.Background(), "burner", metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)})
	}()
	pid, err := burnerPID()
	if err != nil {
		fail(err)
	}
	proc, err := goproc.Open("/proc", pid)
	if err != nil {
		fail(fmt.Errorf("open the burner: %w", err))
	}
	defer proc.Close()
	const window = 8 * time.Second
	var none, read []float64
	readings := 0
	for i := 0; i < 3; i++ { // alternated
		none = append(none, throughput(window).cpu)
		stop, done := make(chan struct{}), make(chan struct{})
		go func() { // the runner's reading, ten a second through the window (--heap reads once, --alloc twice)
			defer close(done)
			for {
				select {
				case <-stop:
					return
				case <-time.After(100 * time.Millisecond):
				}
				if _, err := proc.MemProfile(); err != nil {
					fail(fmt.Errorf("read the burner's memory profile: %w", err))
				}
				readings++
			}
		}()
		read = append(read, throughput(window).cpu)
		close(stop)
		<-done
	}
	fmt.Printf("  a CPU-bound target (the stripped demo server, -burn) read %d times a second: %s of its unread work per CPU second (medians of 3 alternated %v windows)\n",
		readings/int(3*window/time.Second), fig("heap.per-cpu", fmt.Sprintf("%.3f", medianFloat(read)/medianFloat(none))), window)
}

// burnerPID is the burner pod's process, as this node sees it.
func burnerPID() (int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if args := strings.Split(string(b), "\x00"); len(args) > 0 && strings.HasSuffix(args[0], "/app/server-stripped") && strings.Contains(string(b), "-burn") {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("the burner's process is not on this node")
}
