//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/remotecommand"
)

// oldRunnerImage is the runner with Debian 12's bpftrace 0.17: an older
// image a user may pass with --image.
func oldRunnerImage() string {
	v, err := os.ReadFile("../../VERSION")
	if err != nil {
		panic(err)
	}
	return "trace-debug.local/runner-bpftrace017:" + strings.TrimSpace(string(v))
}

// execInPod runs command in a container of the pod, as `kubectl exec` does.
func execInPod(t *testing.T, d demoPod, container string, command ...string) {
	t.Helper()
	req := client.CoreV1().RESTClient().Post().Resource("pods").Namespace(d.ns).Name(d.name).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: container, Command: command, Stdout: true, Stderr: true}, scheme.ParameterCodec)
	exec, err := remotecommand.NewSPDYExecutor(restConfig, "POST", req.URL())
	if err != nil {
		t.Fatalf("exec: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := exec.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &out, Stderr: &out}); err != nil {
		t.Fatalf("exec %v in %s/%s: %v\n%s", command, d.ns, d.name, err, out.String())
	}
}

// assertQuiet fails when a healthy run printed warnings or errors that the
// environment causes.
func assertQuiet(t *testing.T, stderr string) {
	t.Helper()
	if strings.Contains(stderr, "WARNING") || strings.Contains(stderr, "ERROR") {
		t.Fatalf("a healthy run printed warnings or errors:\n%s", stderr)
	}
}

// scopeProgram counts, in the traced pod: calls of the server's Go function
// (a uprobe on a binary that the sibling pod's server maps too), the same
// calls by the traced process only (pid == $container_pid), and execs of a
// path only this test uses (a tracepoint, node-wide by nature).
const scopeProgram = ready + counterProbe + ` { @calls = count(); }
` + counterProbe + ` /pid == $container_pid/ { @mine = count(); }
tracepoint:sched:sched_process_exec /str(args.filename) == "/usr/./bin/bash"/ { @execs = count(); }`

// TestPodIsTheUnit: two pods of the same image on the same node. Tracing pod
// A counts A's requests and the bash execs in A's container only, a bash
// exec'd into A included; with --node-wide, both pods'.
//
// Not parallel: the node-wide run counts every pod's server calls.
func TestPodIsTheUnit(t *testing.T) {
	ns := newNamespace(t)
	a := startDemo(t, ns, nil)
	b := startDemo(t, ns, func(p *corev1.Pod) { p.Name = "sibling" })
	for _, c := range []struct {
		nodeWide           bool
		calls, mine, execs int
	}{
		{nodeWide: false, calls: 3, mine: 3, execs: 2},
		{nodeWide: true, calls: 8, mine: 3, execs: 5},
	} {
		t.Run(fmt.Sprintf("node-wide=%v", c.nodeWide), func(t *testing.T) {
			args := []string{"-n", ns, "pod/" + a.name, "-e", scopeProgram}
			if c.nodeWide {
				args = append(args, "--node-wide")
			}
			s := startPlugin(t, args...)
			s.waitOutput(t, "tracing\n", 60*time.Second)
			a.request(t, 3)
			b.request(t, 5)
			// bash exec'd into the traced container, running bash again:
			// two execs there; three in the sibling.
			execInPod(t, a, "server", "/usr/./bin/bash", "-c", "/usr/./bin/bash -c :")
			execInPod(t, b, "server", "/usr/./bin/bash", "-c", "/usr/./bin/bash -c :; /usr/./bin/bash -c :")
			s.interrupt(t)
			if code := s.wait(t, 60*time.Second); code != 0 {
				t.Fatalf("exit code %d\n%s", code, s.stderr)
			}
			out := s.stdout.String()
			for name, want := range map[string]int{"@calls": c.calls, "@mine": c.mine, "@execs": c.execs} {
				if got := mapValue(t, out, name); got != want {
					t.Errorf("%s = %d, want %d\n%s", name, got, want, out)
				}
			}
			if said := strings.Contains(s.stderr.String(), "tracing node-wide"); said != c.nodeWide {
				t.Errorf("node-wide note: %v, want %v\n%s", said, c.nodeWide, s.stderr)
			}
			if !c.nodeWide {
				assertQuiet(t, s.stderr.String())
			}
		})
	}
	assertNoHarm(t, a, 60*time.Second)
	assertNoHarm(t, b, 60*time.Second)
}

// TestGoUretprobeServed: the seed's own uretprobe on the demo's Go function
// prints each counter value in order, on a server with symbols and on a
// stripped one, and the server lives on (no restarts).
func TestGoUretprobeServed(t *testing.T) {
	for _, server := range []string{"/app/server", "/app/server-stripped"} {
		t.Run(server, func(t *testing.T) {
			d := startDemo(t, newNamespace(t), func(p *corev1.Pod) { p.Spec.Containers[0].Command[0] = server })
			s := startPlugin(t, "-n", d.ns, "pod/"+d.name,
				"-e", ready+`uretprobe:/proc/$container_pid/exe:"main.counterValue" { printf("%d\n", retval) }`)
			s.waitOutput(t, "tracing\n", 60*time.Second)
			d.request(t, 3)
			s.interrupt(t)
			if code := s.wait(t, 60*time.Second); code != 0 {
				t.Fatalf("exit code %d\n%s", code, s.stderr)
			}
			// The counter went on from the readiness probe's request: three
			// consecutive values, in order.
			var got []int
			for _, f := range strings.Fields(strings.TrimPrefix(s.stdout.String(), "tracing\n")) {
				n, err := strconv.Atoi(f)
				if err != nil {
					t.Fatalf("unexpected output %q:\n%s", f, s.stdout)
				}
				got = append(got, n)
			}
			if len(got) != 3 || got[1] != got[0]+1 || got[2] != got[1]+1 {
				t.Fatalf("want three consecutive counter values, got %v\n%s", got, s.stdout)
			}
			if !strings.Contains(s.stderr.String(), "rewritten as") {
				t.Errorf("the runner did not say it rewrote the uretprobe:\n%s", s.stderr)
			}
			assertQuiet(t, s.stderr.String())
			d.request(t, 2)
			assertNoHarm(t, d, 60*time.Second)
		})
	}
}

// TestDurationOnSysEnterWildcard: the seed's first program with
// --duration. As the seed writes it, it runs as one raw_syscalls probe with
// the same output; written so that it cannot (its predicate names probe),
// it runs as 360 tracepoints, and then the maps are printed and the command
// has returned while the tracer container is still detaching its probes
// (the slow part stays off the user's path); the container ends by itself
// afterwards.
func TestDurationOnSysEnterWildcard(t *testing.T) {
	d := startDemo(t, newNamespace(t), nil)
	for _, c := range []struct {
		name, program string
		rewritten     bool
	}{
		{"as the seed writes it", `tracepoint:syscalls:sys_enter_* { @[probe] = count(); }`, true},
		{"360 tracepoints", `tracepoint:syscalls:sys_enter_* /probe != ""/ { @[probe] = count(); }`, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := startPlugin(t, "-n", d.ns, "pod/"+d.name, "--duration", "3s", "-e", c.program)
			s.waitOutput(t, "probes attached", 60*time.Second)
			d.request(t, 3)
			if code := s.wait(t, 60*time.Second); code != 0 {
				t.Fatalf("exit code %d\n%s", code, s.stderr)
			}
			if said := strings.Contains(s.stderr.String(), "runs as one probe, tracepoint:raw_syscalls:sys_enter"); said != c.rewritten {
				t.Errorf("rewritten: %v, want %v\n%s", said, c.rewritten, s.stderr)
			}
			out := s.stdout.String()
			if !strings.Contains(out, "@[tracepoint:syscalls:sys_enter_accept4]:") && !strings.Contains(out, "@[tracepoint:syscalls:sys_enter_write]:") {
				t.Fatalf("want the server's syscalls in the maps:\n%s", out)
			}
			if !c.rewritten {
				pod, err := client.CoreV1().Pods(d.ns).Get(context.Background(), d.name, metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				name := tracerName(t, s.stderr.String())
				for _, st := range pod.Status.EphemeralContainerStatuses {
					if st.Name == name && st.State.Running == nil {
						t.Errorf("the tracer had ended before the command returned: the maps waited for the detach (%+v)", st.State)
					}
				}
			}
			assertQuiet(t, s.stderr.String())
		})
	}
	assertNoHarm(t, d, 120*time.Second)
}

// TestOldBpftraceImage: a user's --image with Debian 12's bpftrace 0.17
// still traces, scoped to the pod; it prints the maps after detaching.
func TestOldBpftraceImage(t *testing.T) {
	d := startDemo(t, newNamespace(t), nil)
	s := startPlugin(t, "-n", d.ns, "pod/"+d.name, "--image", oldRunnerImage(), "-e", ready+counterProbe+` { @calls = count(); }`)
	s.waitOutput(t, "tracing\n", 60*time.Second)
	d.request(t, 4)
	s.interrupt(t)
	if code := s.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("exit code %d\n%s", code, s.stderr)
	}
	if got := mapValue(t, s.stdout.String(), "@calls"); got != 4 {
		t.Fatalf("@calls = %d, want 4", got)
	}
	if !strings.Contains(s.stderr.String(), "bpftrace 0.17.0 (no maps on demand") {
		t.Errorf("the runner did not name the old bpftrace and what it lacks:\n%s", s.stderr)
	}
	// doctor names the image's bpftrace as its runner reported it, and warns.
	out, stderr, _ := runPlugin(t, 30*time.Second, "doctor", "-n", d.ns, "pod/"+d.name, "--image", oldRunnerImage())
	if !regexp.MustCompile(`(?m)^bpftrace +warn +bpftrace 0\.17\.0 `).MatchString(out) {
		t.Errorf("doctor does not report the old bpftrace:\n%s%s", out, stderr)
	}
	assertNoHarm(t, d, 30*time.Second)
}
