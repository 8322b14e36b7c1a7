//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/trace-debug/kubectl-trace-debug/debug"
)

// TestMacroWithMapParameterOnPodFile: a program written as bpftrace 0.27
// writes it (a macro given the map) on the server's path as the pod sees it
// (/app/server, not under /proc/), counts the traced pod's calls and none
// of its sibling's, which runs the same image on the same node.
//
// Not parallel: the uprobe fires in both pods' servers.
func TestMacroWithMapParameterOnPodFile(t *testing.T) {
	ns := newNamespace(t)
	a := startDemo(t, ns, nil)
	b := startDemo(t, ns, func(p *corev1.Pod) { p.Name = "sibling" })
	s := startPlugin(t, "-n", ns, "pod/"+a.name, "-e",
		ready+"macro hit(@m) { @m = count() }\n"+`uprobe:/app/server:"main.counterValue" { hit(@calls); }`)
	s.waitOutput(t, "tracing\n", 60*time.Second)
	a.request(t, 3)
	b.request(t, 5)
	s.interrupt(t)
	if code := s.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("exit code %d\n%s", code, s.stderr)
	}
	if got := mapValue(t, s.stdout.String(), "@calls"); got != 3 {
		t.Fatalf("@calls = %d, want 3 (the traced pod's)\n%s", got, s.stdout)
	}
	assertQuiet(t, s.stderr.String())
	assertNoHarm(t, a, 60*time.Second)
}

// TestUnsafeNeverRidesOnTheRunners: a stripped server's return probe needs
// bpftrace's --unsafe; a macro calling system(), or a uprobe of the user's
// at a raw address (which --unsafe would place without checking it starts
// an instruction), is refused before anything is attached, and the server
// is untouched.
func TestUnsafeNeverRidesOnTheRunners(t *testing.T) {
	t.Parallel()
	d := startDemo(t, newNamespace(t), func(p *corev1.Pod) { p.Spec.Containers[0].Command[0] = "/app/server-stripped" })
	goRet := `uretprobe:/proc/$container_pid/exe:"main.counterValue" { @r = count(); }`
	for _, c := range []struct{ program, why string }{
		{`macro m() { system("echo hi") } uretprobe:/proc/$container_pid/exe:"main.counterValue" { m(); }`, "system()"},
		{`uprobe:/proc/$container_pid/exe:0x401003 { @n = count(); } ` + goRet, "is a uprobe at a raw address"},
	} {
		_, stderr, code := runPlugin(t, 60*time.Second, "-n", d.ns, "pod/"+d.name, "-e", c.program)
		if code != debug.ExitUnsafeRide || !strings.Contains(stderr, c.why) || !strings.Contains(stderr, "--func") ||
			strings.Contains(stderr, "probes attached") {
			t.Fatalf("code %d, want %d, refused before attaching and saying %q\n%s", code, debug.ExitUnsafeRide, c.why, stderr)
		}
	}
	d.request(t, 2)
	assertNoHarm(t, d, 10*time.Second)
}

// TestBpftraceToolsAsWritten: bpftrace's own tools, as its package ships
// them, see the pod's own events: bashreadline the lines typed into the
// pod's bash, gethostlatency the name that bash looks up (its /dev/tcp
// calls getaddrinfo in the pod's libc), syscount the server's syscalls
// under load.
func TestBpftraceToolsAsWritten(t *testing.T) {
	t.Parallel()
	tools := os.Getenv("TRACE_DEBUG_BPFTRACE_TOOLS")
	if tools == "" {
		t.Fatal("TRACE_DEBUG_BPFTRACE_TOOLS (the runner image's /usr/sbin) is not set: scripts/test-e2e.sh sets it")
	}
	d := startDemo(t, newNamespace(t), nil)
	for _, c := range []struct {
		tool, container, first string
		act                    func()
		want                   *regexp.Regexp
	}{
		// bash waits in readline() already: the line in flight is not seen, the next is.
		{"bashreadline.bt", "shell", "Tracing bash commands", func() {
			typeIntoShell(t, d, "true")
			typeIntoShell(t, d, "echo e2e-tool-line")
		}, regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d +\d+ +echo e2e-tool-line$`)},
		{"gethostlatency.bt", "shell", "Tracing getaddr/gethost calls", func() {
			typeIntoShell(t, d, "true")
			typeIntoShell(t, d, fmt.Sprintf("echo hi > /dev/tcp/localhost/%d", d.port))
		}, regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d +\d+ +bash +\d+ +localhost$`)},
		{"syscount.bt", "server", "Counting syscalls", func() { d.request(t, 5) },
			regexp.MustCompile(`(?s)Top 10 processes:.*@process\[server\]: \d+`)},
	} {
		t.Run(c.tool, func(t *testing.T) {
			s := startPlugin(t, "-n", d.ns, "pod/"+d.name, "-c", c.container, "-f", filepath.Join(tools, c.tool))
			s.waitOutput(t, c.first, 60*time.Second)
			s.waitOutput(t, "probes attached", 60*time.Second)
			c.act()
			if c.container == "shell" { // printed as it happens
				for deadline := time.Now().Add(20 * time.Second); !c.want.MatchString(s.stdout.String()) && time.Now().Before(deadline); {
					time.Sleep(100 * time.Millisecond)
				}
			}
			s.interrupt(t)
			if code := s.wait(t, 60*time.Second); code != 0 || !c.want.MatchString(s.stdout.String()) {
				t.Fatalf("exit code %d; want %v in its output\nstdout:\n%s\nstderr:\n%s", code, c.want, s.stdout, s.stderr)
			}
		})
	}
	assertNoHarm(t, d, 60*time.Second)
}

// TestEveryToolFaresAsAlone: each of bpftrace's own tools, run in a pod,
// attaches exactly when bpftrace alone, on this node, accepts it (--dry-run
// here, in a mount namespace of the test's own with tracefs): the runner
// breaks none, and the pod's files stand in for the node's. Tools that need
// kprobes (this kernel has none) or symbols the libraries lack fail both
// ways.
func TestEveryToolFaresAsAlone(t *testing.T) {
	tools, _ := filepath.Glob(filepath.Join(os.Getenv("TRACE_DEBUG_BPFTRACE_TOOLS"), "*.bt"))
	if len(tools) < 30 {
		t.Fatalf("only %d tools in TRACE_DEBUG_BPFTRACE_TOOLS (scripts/test-e2e.sh sets it)", len(tools))
	}
	bpftrace, err := filepath.Abs("../../scripts/bpftrace-sid")
	if err != nil {
		t.Fatal(err)
	}
	d := startDemo(t, newNamespace(t), nil)
	attached := 0
	for _, tool := range tools {
		out, err := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c",
			`mount -t tracefs tracefs /sys/kernel/tracing && exec "$0" --dry-run "$1"`, bpftrace, tool).CombinedOutput()
		alone := err == nil
		_, stderr, code := runPlugin(t, 2*time.Minute, "-n", d.ns, "pod/"+d.name, "--duration", "1s", "-f", tool)
		if inPod := code == 0; inPod != alone {
			t.Errorf("%s: bpftrace alone accepts it: %v; in the pod it attached: %v (exit %d)\nalone:\n%s\nin the pod:\n%s",
				filepath.Base(tool), alone, inPod, code, out, stderr)
		}
		if code == 0 {
			attached++
		}
	}
	t.Logf("%d of %d tools attach in the pod, as bpftrace alone accepts them here", attached, len(tools))
	assertNoHarm(t, d, 2*time.Minute)
}
