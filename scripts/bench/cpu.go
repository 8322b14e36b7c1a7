package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/trace-debug/kubectl-trace-debug/internal/syncbuf"
)

// burnerPort is where the bench's CPU-bound target serves its /rounds.
const burnerPort = 18090

// bpftraceProfile is what a person writes for a CPU profile with bpftrace.
const bpftraceProfile = `profile:hz:99 { @[ustack, kstack] = count(); }`

// cpuSideBySide profiles a CPU-bound Go target (the demo server, stripped,
// with -burn: 70% of a CPU in main.hot) and compares: its throughput with
// no profiler and with --cpu at 99 and 999 Hz, alternated; the runner's
// peak memory; the time from the command to the first sample; and, against
// bpftrace's profile:hz:99 in the same pod, that time, memory, and how
// many of the stripped binary's frames each could name.
func cpuSideBySide(client kubernetes.Interface, plugin, kubeconfig string) {
	if err := burnerPod(client); err != nil {
		fail(err)
	}
	defer func() {
		_ = client.CoreV1().Pods("default").Delete(context.Background(), "burner", metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)})
	}()
	fmt.Println("\nCPU profile of a CPU-bound Go target (stripped demo server, -burn), side by side:")
	const window = 8 * time.Second
	rates := map[string][]rate{}
	peaks := map[string]int{}
	for i := 0; i < 3; i++ { // alternated, so a busy moment of the node falls on every way alike
		for _, way := range []string{"none", "99", "999"} {
			if way == "none" {
				rates[way] = append(rates[way], throughput(window))
				continue
			}
			r, kb, err := profiledThroughput(plugin, kubeconfig, way, window)
			if err != nil {
				fail(fmt.Errorf("--cpu --hz %s: %w", way, err))
			}
			rates[way] = append(rates[way], r)
			peaks[way] = max(peaks[way], kb)
		}
	}
	wall := func(way string) []float64 {
		var v []float64
		for _, r := range rates[way] {
			v = append(v, r.wall)
		}
		return v
	}
	cpu := func(way string) []float64 {
		var v []float64
		for _, r := range rates[way] {
			v = append(v, r.cpu)
		}
		return v
	}
	base, baseCPU := medianFloat(wall("none")), medianFloat(cpu("none"))
	lo, hi := slices.Min(wall("none")), slices.Max(wall("none"))
	fmt.Printf("  without a profiler: %.0f rounds/s of wall time (windows ranged %.0f to %.0f: %s, this node's noise), %.0f rounds/s of the burner's CPU time\n",
		base, lo, hi, fig("cpu.unprofiled-range", fmt.Sprintf("%.1f%%", 100*(hi-lo)/base)), baseCPU)
	for _, hz := range []string{"99", "999"} {
		fmt.Printf("  with --cpu --hz %-4s %s of that per CPU second, %s per wall second (medians of 3 alternated %v windows); runner peak %s\n",
			hz+":", fig("cpu.hz"+hz+".per-cpu", fmt.Sprintf("%.3f", medianFloat(cpu(hz))/baseCPU)), fig("cpu.hz"+hz+".per-wall", fmt.Sprintf("%.3f", medianFloat(wall(hz))/base)),
			window, fig("cpu.hz"+hz+".peak", mb(int64(peaks[hz]))))
	}
	ours, err := attachRun(plugin, kubeconfig, "burner", "--cpu", "--duration", "2s")
	if err != nil {
		fail(fmt.Errorf("--cpu: %w", err))
	}
	theirs, err := attachRun(plugin, kubeconfig, "burner", "-e", bpftraceProfile)
	if err != nil {
		fail(fmt.Errorf("bpftrace profile: %w", err))
	}
	fmt.Printf("  first sample (probes attached): --cpu %s, bpftrace profile:hz:99 %s (%s)\n",
		fig("cpu.first-sample", secs(ours.attach)), fig("cpu.bpftrace-first-sample", secs(theirs.attach)), fig("cpu.first-sample-ratio", fmt.Sprintf("%.1f×", float64(theirs.attach)/float64(ours.attach))))
	fmt.Printf("  peak memory in the pod:         --cpu %s, bpftrace %s (%s)\n", fig("cpu.profile-peak", mb(int64(ours.peakKB))), fig("cpu.bpftrace-peak", mb(int64(theirs.peakKB))),
		fig("cpu.peak-ratio", fmt.Sprintf("%.1f×", float64(theirs.peakKB)/float64(ours.peakKB))))
	named, total, err := ourNamedFrames(plugin, kubeconfig)
	if err != nil {
		fail(err)
	}
	bNamed, bTotal, err := bpftraceNamedFrames(plugin, kubeconfig)
	if err != nil {
		fail(err)
	}
	fmt.Printf("  user frames named on the stripped binary: --cpu %d of %d (%s), bpftrace %d of %d (%s)\n",
		named, total, fig("cpu.named", fmt.Sprintf("%.0f%%", 100*float64(named)/float64(max(total, 1)))),
		bNamed, bTotal, fig("cpu.bpftrace-named", fmt.Sprintf("%.0f%%", 100*float64(bNamed)/float64(max(bTotal, 1)))))
}

// burnerPod starts the CPU-bound target in namespace default and waits
// until it serves.
func burnerPod(client kubernetes.Interface, args ...string) error {
	return demoPod(client, "burner", burnerPort, "/app/server-stripped", append([]string{"-burn"}, args...)...)
}

// demoPod starts binary of the demo image (the stripped demo server, a
// parked target) as pod name in namespace default, serving on port, with
// args (-burn, -mix), and waits until it serves.
func demoPod(client kubernetes.Interface, name string, port int, binary string, args ...string) error {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{HostNetwork: true, TerminationGracePeriodSeconds: ptr.To[int64](0), Containers: []corev1.Container{{
			Name: "server", Image: "trace-debug.local/demo:1", ImagePullPolicy: corev1.PullNever,
			Command: append([]string{binary, "-listen", fmt.Sprintf("127.0.0.1:%d", port)}, args...),
		}}},
	}
	_ = client.CoreV1().Pods("default").Delete(context.Background(), name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)})
	for i := 0; i < 60; i++ {
		if _, err := client.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{}); err != nil {
			break
		}
		time.Sleep(time.Second)
	}
	if _, err := client.CoreV1().Pods("default").Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create the %s pod: %w", name, err)
	}
	for i := 0; i < 120; i++ {
		if resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/rounds", port)); err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(500 * time.Millisecond)
	}
	return fmt.Errorf("the %s pod did not serve /rounds within a minute", name)
}

// rounds reads the burner's count of rounds of work and its thread's CPU
// time so far (ns).
func rounds() (uint64, uint64, error) {
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/rounds", burnerPort))
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, 0, err
	}
	var n, cpu uint64
	if _, err := fmt.Sscan(string(b), &n, &cpu); err != nil {
		return 0, 0, fmt.Errorf("read /rounds %q: %w", b, err)
	}
	return n, cpu, nil
}

// rate is the burner's throughput over a window: rounds a second of wall
// time, and rounds a second of its own CPU time (which the node's other
// load and a VM's stolen time do not change; the profiler's interrupts on
// its CPU do).
type rate struct{ wall, cpu float64 }

// throughput is the burner's rate over window.
func throughput(window time.Duration) rate {
	a, ca, err := rounds()
	start := time.Now()
	if err != nil {
		fail(err)
	}
	time.Sleep(window)
	b, cb, err := rounds()
	if err != nil {
		fail(err)
	}
	return rate{float64(b-a) / time.Since(start).Seconds(), float64(b-a) / (float64(cb-ca) / 1e9)}
}

// profiledThroughput measures the burner's throughput over window while
// --cpu --hz hz samples it (from the probes attached), and the runner's
// peak memory.
func profiledThroughput(plugin, kubeconfig, hz string, window time.Duration) (rate, int, error) {
	return throughputUnder(plugin, kubeconfig, window, "--cpu", "--hz", hz, "-o", "folded")
}

// throughputUnder measures the burner's throughput over window while the
// plugin runs with args on it (from the probes attached), and the
// runner's peak memory.
func throughputUnder(plugin, kubeconfig string, window time.Duration, args ...string) (rate, int, error) {
	ready := filepath.Join(os.TempDir(), fmt.Sprintf("bench-cpu-%d", time.Now().UnixNano()))
	defer os.Remove(ready)
	cmd := exec.Command(plugin, append([]string{"--kubeconfig", kubeconfig, "pod/burner", "--duration", (window + 6*time.Second).String(), "--ready-file", ready}, args...)...)
	var stderr syncbuf.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	if err := cmd.Start(); err != nil {
		return rate{}, 0, err
	}
	for i := 0; i < 3000; i++ {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(time.Second) // settled
	r := throughput(window)
	if err := cmd.Wait(); err != nil {
		return rate{}, 0, fmt.Errorf("%w\n%s", err, stderr.String())
	}
	m := peakLine.FindStringSubmatch(stderr.String())
	if m == nil {
		return rate{}, 0, fmt.Errorf("no peak memory line:\n%s", stderr.String())
	}
	kb, _ := strconv.Atoi(m[1] + m[2])
	return r, kb, nil
}

// ourNamedFrames profiles the burner for 3 s and counts its user frames
// (the process's own: the stacks of process server-stripped) that have a
// name rather than an address.
func ourNamedFrames(plugin, kubeconfig string) (named, total int, err error) {
	out, err := exec.Command(plugin, "--kubeconfig", kubeconfig, "pod/burner", "--cpu", "--duration", "3s", "-o", "json").Output()
	if err != nil {
		return 0, 0, fmt.Errorf("--cpu -o json: %w", err)
	}
	var p struct {
		Stacks []struct {
			Frames []struct{ Func string } `json:"frames"`
			Count  int                     `json:"count"`
		} `json:"stacks"`
	}
	if err := json.Unmarshal(out, &p); err != nil {
		return 0, 0, err
	}
	for _, s := range p.Stacks {
		for _, f := range s.Frames {
			if !isUserFrame(f.Func) {
				continue
			}
			total += s.Count
			if !unnamed.MatchString(f.Func) {
				named += s.Count
			}
		}
	}
	return named, total, nil
}

// unnamed matches a frame without a name: an address or file+offset.
var unnamed = regexp.MustCompile(`^0x[0-9a-f]+$|\+0x[0-9a-f]+$`)

// isUserFrame tells the Go server's frames from the kernel's, by the Go
// names (pkg.func) and the addresses a stripped binary leaves.
func isUserFrame(name string) bool {
	return strings.Contains(name, ".") || unnamed.MatchString(name)
}

// bpftraceNamedFrames runs bpftrace's profile:hz:99 on the burner for 3 s
// and counts the user stack frames of its map that have a name.
func bpftraceNamedFrames(plugin, kubeconfig string) (named, total int, err error) {
	out, err := exec.Command(plugin, "--kubeconfig", kubeconfig, "pod/burner", "--duration", "3s", "-e", `profile:hz:99 { @[ustack] = count(); }`).Output()
	if err != nil {
		return 0, 0, fmt.Errorf("bpftrace profile: %w", err)
	}
	// @[\n        frame\n        frame\n]: count
	var frames []string
	for _, l := range strings.Split(string(out), "\n") {
		switch t := strings.TrimSpace(l); {
		case strings.HasPrefix(l, "@["):
			frames = frames[:0]
		case strings.HasPrefix(t, "]: "):
			n, _ := strconv.Atoi(strings.TrimPrefix(t, "]: "))
			for _, f := range frames {
				total += n
				if !regexp.MustCompile(`^0x[0-9a-f]+$`).MatchString(f) {
					named += n
				}
			}
		case t != "":
			frames = append(frames, t)
		}
	}
	if total == 0 {
		return 0, 0, fmt.Errorf("bpftrace printed no stacks:\n%s", out)
	}
	return named, total, nil
}

// medianFloat is the median of v.
func medianFloat(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
