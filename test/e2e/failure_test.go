//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/trace-debug/kubectl-trace-debug/debug"
)

// Exit codes and messages for bad input; each must come within seconds.
func TestBadInput(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	d := startDemo(t, ns, nil)

	pending := podSpec("pending", 1)
	pending.Spec.NodeSelector = map[string]string{"no-such-label": "x"}
	if _, err := client.CoreV1().Pods(ns).Create(context.Background(), pending, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ambiguous := podSpec("ambiguous", 1)
	ambiguous.Annotations = nil
	ambiguous.Spec.NodeSelector = map[string]string{"no-such-label": "x"}
	if _, err := client.CoreV1().Pods(ns).Create(context.Background(), ambiguous, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name     string
		args     []string
		code     int
		contains string
	}{
		{"no such pod", []string{"pod/nope", "-e", "BEGIN{}"}, debug.ExitTargetNotFound, `pods "nope" not found`},
		{"not running", []string{"pod/pending", "-e", "BEGIN{}"}, debug.ExitTargetNotFound, "is Pending, not Running"},
		{"ambiguous container", []string{"pod/ambiguous", "-e", "BEGIN{}"}, debug.ExitUsage, "choose one with -c"},
		{"unknown container", []string{"pod/" + d.name, "-c", "nope", "-e", "BEGIN{}"}, debug.ExitTargetNotFound, "has no container \"nope\""},
		{"no such deployment", []string{"deploy/nope", "-e", "BEGIN{}"}, debug.ExitTargetNotFound, `deployments.apps "nope" not found`},
		{"not a workload", []string{"configmap/kube-root-ca.crt", "-e", "BEGIN{}"}, debug.ExitUsage, "has no pods of its own"},
		{"not a pod type", []string{"nosuchtype/x", "-e", "BEGIN{}"}, debug.ExitUsage, "give pod/NAME, NAME, deploy/NAME"},
		{"no program", []string{"pod/" + d.name}, debug.ExitUsage, "no program"},
		{"syntax error", []string{"pod/" + d.name, "-e", "BEGIN { printf(\"x\" }"}, debug.ExitProgramRejected, "rejected before anything was attached"},
		{"unknown probe", []string{"pod/" + d.name, "-e", "tracepoint:nope:nope { }"}, debug.ExitProgramRejected, "rejected before anything was attached"},
		{"detached syntax error", []string{"pod/" + d.name, "--detach", "-e", "BEGIN { printf(\"x\" }"}, debug.ExitProgramRejected, "ERROR: syntax"},
		{"func absent", []string{"pod/" + d.name, "--func", "main.nope"}, debug.ExitProgramRejected, "absent, or inlined"},
		{"func on a C binary", []string{"pod/" + d.name, "-c", "shell", "--func", "main.main"}, debug.ExitProgramRejected, "not a Go executable"},
		{"image missing", []string{"pod/" + d.name, "--image", "127.0.0.1:1/trace-debug/missing:1", "-e", "BEGIN{}"}, debug.ExitImage, "ErrImagePull"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, stderr, code := runPlugin(t, 60*time.Second, append([]string{"-n", ns}, c.args...)...)
			if code != c.code {
				t.Fatalf("exit code %d, want %d\n%s", code, c.code, stderr)
			}
			if !strings.Contains(stderr, c.contains) {
				t.Fatalf("stderr lacks %q:\n%s", c.contains, stderr)
			}
		})
	}
	assertNoHarm(t, d, 15*time.Second)
}

// TestClientKilledStopsTracer: when the client dies (SIGKILL, no chance to
// clean up), the tracer stops by itself within seconds.
func TestClientKilledStopsTracer(t *testing.T) {
	t.Parallel()
	d := startDemo(t, newNamespace(t), nil)
	s := startPlugin(t, "-n", d.ns, "pod/"+d.name, "-e", ready+`interval:ms:100 { @ticks = count(); }`)
	s.waitOutput(t, "tracing\n", 60*time.Second)
	name := tracerName(t, s.stderr.String())
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	s.wait(t, 5*time.Second)
	var reason string
	err := wait.PollUntilContextTimeout(context.Background(), 250*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		p, err := client.CoreV1().Pods(d.ns).Get(ctx, d.name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, st := range p.Status.EphemeralContainerStatuses {
			if st.Name == name && st.State.Terminated != nil {
				reason = st.State.Terminated.Reason
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("tracer %s still running 10 s after its client was killed: %v", name, err)
	}
	logs, err := client.CoreV1().Pods(d.ns).GetLogs(d.name, &corev1.PodLogOptions{Container: name}).DoRaw(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(logs), "the client went away") || !strings.Contains(string(logs), "@ticks:") {
		t.Fatalf("tracer (%s) did not stop the Ctrl-C way when its client died; its log:\n%s", reason, logs)
	}
	assertNoHarm(t, d, 10*time.Second)
}

// TestLargePrograms: a 216 KB program (the kernel takes at most 128 KiB in
// one argument) travels on the tracer's stdin and runs, attached and
// detached, and the pod carries only its first line and hash; a 2 MB one is
// refused before anything is injected.
func TestLargePrograms(t *testing.T) {
	t.Parallel()
	d := startDemo(t, newNamespace(t), nil)
	dir := t.TempDir()
	big := filepath.Join(dir, "big.bt")
	program := "// " + strings.Repeat("a comment that pads the program ", 7000) + "\n" + ready + counterProbe + " { @calls = count(); }\n"
	if err := os.WriteFile(big, []byte(program), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startPlugin(t, "-n", d.ns, "pod/"+d.name, "-f", big)
	s.waitOutput(t, "tracing\n", 60*time.Second)
	d.request(t, 2)
	s.interrupt(t)
	if code := s.wait(t, 60*time.Second); code != 0 || mapValue(t, s.stdout.String(), "@calls") != 2 {
		t.Fatalf("216 KB program: code %d\n%s\n%s", code, s.stdout, s.stderr)
	}
	out, stderr, code := runPlugin(t, 60*time.Second, "-n", d.ns, "pod/"+d.name, "-f", big, "--detach", "--deadline", "1m")
	if code != 0 {
		t.Fatalf("detached 216 KB program: code %d\n%s%s", code, out, stderr)
	}
	runPlugin(t, 60*time.Second, "stop", "-n", d.ns, "pod/"+d.name, strings.TrimSpace(out))
	pod, err := client.CoreV1().Pods(d.ns).Get(context.Background(), d.name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ec := range pod.Spec.EphemeralContainers {
		if n := len(strings.Join(ec.Args, " ")); n > 2<<10 {
			t.Fatalf("session %s carries %d bytes of args in the pod", ec.Name, n)
		}
	}

	huge := filepath.Join(dir, "huge.bt")
	if err := os.WriteFile(huge, []byte(strings.Repeat(program, 10)), 0o644); err != nil {
		t.Fatal(err)
	}
	before := len(pod.Spec.EphemeralContainers)
	_, stderr, code = runPlugin(t, 30*time.Second, "-n", d.ns, "pod/"+d.name, "-f", huge)
	if code != debug.ExitUsage || !strings.Contains(stderr, "the limit is 1048576") {
		t.Fatalf("2 MB program: code %d, want %d\n%s", code, debug.ExitUsage, stderr)
	}
	pod, _ = client.CoreV1().Pods(d.ns).Get(context.Background(), d.name, metav1.GetOptions{})
	if len(pod.Spec.EphemeralContainers) != before {
		t.Fatalf("a refused program injected a tracer")
	}
	assertNoHarm(t, d, 30*time.Second)
}

// procsWith lists the host PIDs whose command line contains every one of parts.
func procsWith(parts ...string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		all := true
		for _, p := range parts {
			all = all && strings.Contains(string(b), p)
		}
		if all {
			pids = append(pids, pid)
		}
	}
	return pids
}

// childrenOf lists the host PIDs whose parent is pid.
func childrenOf(pid int) []int {
	var kids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "status"))
		if err == nil && strings.Contains(string(b), fmt.Sprintf("\nPPid:\t%d\n", pid)) {
			k, _ := strconv.Atoi(e.Name())
			kids = append(kids, k)
		}
	}
	return kids
}

// TestRunnerKilled: the runner killed inside the pod takes bpftrace with it
// (parent-death signal: its probes are gone; with no runner to reap it, it
// stays a zombie of the target's PID 1 until that reaps it or the pod
// ends), the client reports the failure instead of hanging, and the pod
// lives on. Stopping the finished session changes nothing and says so.
func TestRunnerKilled(t *testing.T) {
	t.Parallel()
	d := startDemo(t, newNamespace(t), nil)
	s := startPlugin(t, "-n", d.ns, "pod/"+d.name, "-e", ready+`interval:ms:100 { @e2e_runner_killed = count(); }`)
	s.waitOutput(t, "tracing\n", 60*time.Second)
	name := tracerName(t, s.stderr.String())
	runners := procsWith("trace-debug-runner", "e2e_runner_killed")
	if len(runners) != 1 {
		t.Fatalf("want the one runner process, found %v", runners)
	}
	tracers := childrenOf(runners[0])
	if len(tracers) == 0 {
		t.Fatalf("the runner %d has no bpftrace child", runners[0])
	}
	if err := syscall.Kill(runners[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if code := s.wait(t, 60*time.Second); code == 0 {
		t.Fatalf("the client reported success for a killed runner\n%s", s.stderr)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		alive := 0
		for _, p := range tracers {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p))
			if err == nil && !strings.Contains(string(b), "\nState:\tZ") {
				alive++
			}
		}
		if alive == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bpftrace %v outlived its runner", tracers)
		}
	}
	assertNoHarm(t, d, 30*time.Second)
	_, stderr, code := runPlugin(t, 30*time.Second, "stop", "-n", d.ns, "pod/"+d.name, name)
	if code != 0 || !strings.Contains(stderr, "is not running") {
		t.Fatalf("stop on a finished session: code %d\n%s", code, stderr)
	}
}
