package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// parkedPort is where the bench's parked target serves Go's profiles.
const parkedPort = 18092

// goroutinesLine is the runner's line after a goroutine dump.
var goroutinesLine = regexp.MustCompile(`(\d+) goroutines of \d+ Go processes read in ([0-9.]+)(ms|s) .*peak memory of the runner: (\d+) kB`)

// goroutinesSideBySide dumps the goroutines of a stripped Go target with
// 10 000 parked goroutines (images/parked, go1.27.3), three times: how
// long the runner took to read them, its peak memory, and the count
// against the target's own goroutine profile.
func goroutinesSideBySide(client kubernetes.Interface, plugin, kubeconfig string) {
	if err := demoPod(client, "parked", parkedPort, "/app/parked-go1.27"); err != nil {
		fail(err)
	}
	defer func() {
		_ = client.CoreV1().Pods("default").Delete(context.Background(), "parked", metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)})
	}()
	fmt.Println("\n--goroutines on a stripped Go target with 10 000 parked goroutines (images/parked, go1.27.3), 3 runs:")
	var reads []float64
	peak, ours, theirs := 0, 0, 0
	for i := 0; i < 3; i++ {
		out, err := exec.Command(plugin, "--kubeconfig", kubeconfig, "pod/parked", "--goroutines").CombinedOutput()
		m := goroutinesLine.FindStringSubmatch(string(out))
		if err != nil || m == nil {
			fail(fmt.Errorf("--goroutines: %v\n%s", err, out))
		}
		n, _ := strconv.Atoi(m[1])
		took, _ := strconv.ParseFloat(m[2], 64)
		if m[3] == "ms" {
			took /= 1000
		}
		kb, _ := strconv.Atoi(m[4])
		reads, peak, ours = append(reads, took), max(peak, kb), n
		if theirs, err = parkedTotal(); err != nil {
			fail(err)
		}
	}
	fmt.Printf("  read in %s (median), runner peak %s; %s goroutines read, %s by the target's own profile\n",
		fig("goroutines.read", secs(time.Duration(medianFloat(reads)*float64(time.Second)))), fig("goroutines.peak", mb(int64(peak))),
		fig("goroutines.ours", strconv.Itoa(ours)), fig("goroutines.go", strconv.Itoa(theirs)))
}

// parkedTotal is the parked target's own goroutine count.
func parkedTotal() (int, error) {
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/goroutine?debug=1", parkedPort))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	line, _ := bufio.NewReader(resp.Body).ReadString('\n')
	return strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "goroutine profile: total ")))
}

// wallSideBySide measures what --wall costs a Go target with 10 000
// goroutines: the CPU-bound demo server (-burn) with 10 000 goroutines
// parked beside its work (-park), its throughput with no profiler and
// under --wall at its default rate, alternated, and the runner's peak.
func wallSideBySide(client kubernetes.Interface, plugin, kubeconfig string) {
	if err := burnerPod(client, "-park", "10000"); err != nil {
		fail(err)
	}
	defer func() {
		_ = client.CoreV1().Pods("default").Delete(context.Background(), "burner", metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)})
	}()
	fmt.Println("\n--wall on a CPU-bound Go target with 10 000 parked goroutines (stripped demo server, -burn -park 10000), side by side:")
	const window = 8 * time.Second
	var none, wall []rate
	peak := 0
	for i := 0; i < 3; i++ { // alternated, so a busy moment of the node falls on both alike
		none = append(none, throughput(window))
		r, kb, err := throughputUnder(plugin, kubeconfig, window, "--wall", "-o", "folded")
		if err != nil {
			fail(fmt.Errorf("--wall: %w", err))
		}
		wall, peak = append(wall, r), max(peak, kb)
	}
	med := func(rs []rate, cpu bool) float64 {
		var v []float64
		for _, r := range rs {
			if cpu {
				v = append(v, r.cpu)
			} else {
				v = append(v, r.wall)
			}
		}
		return medianFloat(v)
	}
	fmt.Printf("  with --wall (10 readings a second): %s of the unprofiled work per CPU second, %s per wall second (medians of 3 alternated %v windows); runner peak %s\n",
		fig("wall.per-cpu", fmt.Sprintf("%.3f", med(wall, true)/med(none, true))), fig("wall.per-wall", fmt.Sprintf("%.3f", med(wall, false)/med(none, false))), window, fig("wall.peak", mb(int64(peak))))
}
