package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/pprof/profile"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/trace-debug/kubectl-trace-debug/bpf/stacks"
	"github.com/trace-debug/kubectl-trace-debug/internal/testgo"
)

// mixerPort is where the bench's mixed workload serves Go's profiler.
const mixerPort = 18091

// agreeSideBySide profiles the stripped demo server's mixed workload with
// --cpu and with Go's own profiler (/debug/pprof/profile) over the same
// 10 s, three times, and gives each function's cumulative share both ways
// and the largest difference.
func agreeSideBySide(client kubernetes.Interface, plugin, kubeconfig string) {
	if err := demoPod(client, "mixer", mixerPort, "/app/server-stripped", "-mix"); err != nil {
		fail(err)
	}
	defer func() {
		_ = client.CoreV1().Pods("default").Delete(context.Background(), "mixer", metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)})
	}()
	fmt.Println("\n--cpu against Go's own profiler, the same process over the same 10 s (stripped demo server, -mix), 3 windows:")
	ours, theirs := map[string][]float64{}, map[string][]float64{}
	worst := 0.0
	for i := 0; i < 3; i++ {
		a, b, err := profileAgainstGo(plugin, kubeconfig, 10*time.Second)
		if err != nil {
			fail(fmt.Errorf("window %d: %w", i+1, err))
		}
		for _, f := range testgo.MixFuncs {
			ours[f], theirs[f] = append(ours[f], a[f]), append(theirs[f], b[f])
			worst = max(worst, a[f]-b[f], b[f]-a[f])
		}
	}
	for _, f := range testgo.MixFuncs {
		key := strings.NewReplacer("main.", "", "runtime.", "", "syscall.", "").Replace(f)
		o, g := medianFloat(ours[f]), medianFloat(theirs[f])
		fmt.Printf("  %-24s --cpu %s, Go's %s\n", f, fig("agree."+key+".ours", fmt.Sprintf("%.1f%%", o)), fig("agree."+key+".go", fmt.Sprintf("%.1f%%", g)))
	}
	fmt.Printf("  largest difference in any window: %s\n", fig("agree.worst", fmt.Sprintf("%.1f", worst))+" points")
}

// profileAgainstGo profiles the mixer with --cpu (as pprof) and with its
// own profiler over the same window: each function's cumulative share,
// ours and Go's.
func profileAgainstGo(plugin, kubeconfig string, window time.Duration) (ours, theirs map[string]float64, err error) {
	ready := filepath.Join(os.TempDir(), fmt.Sprintf("bench-agree-%d", time.Now().UnixNano()))
	file := ready + ".pprof"
	defer os.Remove(ready)
	defer os.Remove(file)
	cmd := exec.Command(plugin, "--kubeconfig", kubeconfig, "pod/mixer", "--cpu", "--duration", (window + time.Second).String(), "--ready-file", ready, "-o", "pprof", "--output-file", file)
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	for i := 0; i < 3000; i++ {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/profile?seconds=%d", mixerPort, int(window.Seconds())))
	if err != nil {
		_ = cmd.Wait()
		return nil, nil, err
	}
	defer resp.Body.Close()
	gp, err := readProfile(profile.Parse(resp.Body))
	if err != nil {
		_ = cmd.Wait()
		return nil, nil, fmt.Errorf("Go's profile: %w", err)
	}
	if err := cmd.Wait(); err != nil {
		return nil, nil, fmt.Errorf("--cpu: %w", err)
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	op, err := readProfile(profile.Parse(f))
	if err != nil {
		return nil, nil, fmt.Errorf("--cpu -o pprof: %w", err)
	}
	return op.TotalShares(), gp.TotalShares(), nil
}

// readProfile reads a parsed pprof profile as stacks.
func readProfile(p *profile.Profile, err error) (*stacks.Profile, error) {
	if err != nil {
		return nil, err
	}
	return stacks.FromPProf(p)
}
