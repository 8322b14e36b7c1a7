//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/trace-debug/kubectl-trace-debug/debug"
)

// sessionState reads a session's state from `list -o json`.
func sessionState(t *testing.T, ns, pod, session string) (state string, exit *int32) {
	t.Helper()
	out, stderr, code := runPlugin(t, 30*time.Second, "list", "-n", ns, "pod/"+pod, "-o", "json")
	if code != 0 {
		t.Fatalf("list: code %d\n%s", code, stderr)
	}
	var sessions []struct {
		Session, State string
		ExitCode       *int32
		Detached       bool
	}
	if err := json.Unmarshal([]byte(out), &sessions); err != nil {
		t.Fatalf("list -o json is not JSON: %v\n%s", err, out)
	}
	for _, s := range sessions {
		if s.Session == session {
			return s.State, s.ExitCode
		}
	}
	t.Fatalf("session %s not listed:\n%s", session, out)
	return "", nil
}

// TestDetachedSessionLifecycle: the CI flow. Start detached, wait for the
// ready file, drive load, list, read the logs, attach, stop with Ctrl-C and
// find the summary in the session's output afterwards.
func TestDetachedSessionLifecycle(t *testing.T) {
	d := startDemo(t, newNamespace(t), nil)
	ready := filepath.Join(t.TempDir(), "ready")
	out, stderr, code := runPlugin(t, 60*time.Second, "-n", d.ns, "pod/"+d.name, "--detach", "--ready-file", ready,
		"-e", counterProbe+` { @calls = count(); }`)
	if code != 0 {
		t.Fatalf("detach: code %d\n%s", code, stderr)
	}
	session := strings.TrimSpace(out)
	if b, err := os.ReadFile(ready); err != nil || strings.TrimSpace(string(b)) != session || !strings.HasPrefix(session, "trace-debug-") {
		t.Fatalf("ready file %q (%v) does not hold the session %q", b, err, session)
	}
	d.request(t, 4) // probes are attached once the ready file exists

	if state, _ := sessionState(t, d.ns, d.name, session); state != "Running" {
		t.Fatalf("detached session is %s, want Running", state)
	}
	all, stderr, code := runPlugin(t, 30*time.Second, "list", "-A")
	if code != 0 || !strings.Contains(all, d.ns) || !strings.Contains(all, session) {
		t.Fatalf("list -A lacks %s/%s (code %d):\n%s%s", d.ns, session, code, all, stderr)
	}
	logs, stderr, code := runPlugin(t, 30*time.Second, "logs", "-n", d.ns, "pod/"+d.name, session)
	if code != 0 || !strings.Contains(logs, "probes attached") {
		t.Fatalf("logs: code %d\n%s%s", code, logs, stderr)
	}
	follow := startPlugin(t, "logs", "-f", "-n", d.ns, "pod/"+d.name, session) // ends with the session

	a := startPlugin(t, "attach", "-n", d.ns, "pod/"+d.name, session)
	a.waitOutput(t, "probes attached", 30*time.Second) // replayed
	a.interrupt(t)
	if code := a.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("attach: code %d\n%s", code, a.stderr)
	}
	if got := mapValue(t, a.stdout.String(), "@calls"); got != 4 {
		t.Fatalf("@calls = %d after Ctrl-C in attach, want 4\n%s\n%s", got, a.stdout, a.stderr)
	}
	logs, _, _ = runPlugin(t, 30*time.Second, "logs", "-n", d.ns, "pod/"+d.name, session)
	if mapValue(t, logs, "@calls") != 4 {
		t.Fatalf("summary not kept in the session's output:\n%s", logs)
	}
	if code := follow.wait(t, 30*time.Second); code != 0 || mapValue(t, follow.stdout.String(), "@calls") != 4 {
		t.Fatalf("logs -f: code %d, did not follow to the summary:\n%s", code, follow.stdout)
	}
	// The output is complete before the container ends: it ends once the
	// tracer's probes are detached.
	assertNoHarm(t, d, 30*time.Second)
	if state, exit := sessionState(t, d.ns, d.name, session); state != "Completed" || exit == nil || *exit != 0 {
		t.Fatalf("stopped session is %s (exit %v), want Completed 0", state, exit)
	}
}

// TestStopAndDetachedOutlivesClient: a detached session keeps running when
// no client is around (past the attached sessions' 15 s idle timeout), until
// `stop`, which ends it the Ctrl-C way.
func TestStopAndDetachedOutlivesClient(t *testing.T) {
	t.Parallel()
	d := startDemo(t, newNamespace(t), nil)
	out, stderr, code := runPlugin(t, 60*time.Second, "-n", d.ns, "pod/"+d.name, "--detach", "-e", `interval:ms:100 { @ticks = count(); }`)
	if code != 0 {
		t.Fatalf("detach: code %d\n%s", code, stderr)
	}
	session := strings.TrimSpace(out)
	// attach --no-stop: Ctrl-C leaves, the session goes on.
	a := startPlugin(t, "attach", "--no-stop", "-n", d.ns, "pod/"+d.name, session)
	a.waitOutput(t, "probes attached", 30*time.Second)
	a.interrupt(t)
	if code := a.wait(t, 30*time.Second); code != debug.ExitInterrupted {
		t.Fatalf("attach --no-stop: code %d, want %d\n%s", code, debug.ExitInterrupted, a.stderr)
	}
	time.Sleep(18 * time.Second)
	if state, _ := sessionState(t, d.ns, d.name, session); state != "Running" {
		t.Fatalf("detached session is %s 18 s after its client left, want Running", state)
	}
	_, stderr, code = runPlugin(t, 60*time.Second, "stop", "-n", d.ns, "pod/"+d.name, session)
	if code != 0 || !strings.Contains(stderr, "stopped (exit code 0)") {
		t.Fatalf("stop: code %d\n%s", code, stderr)
	}
	logs, _, _ := runPlugin(t, 30*time.Second, "logs", "-n", d.ns, "pod/"+d.name, session)
	if n := mapValue(t, logs, "@ticks"); n < 150 {
		t.Fatalf("@ticks = %d: the session did not run the whole time", n)
	}
	// A second stop is harmless.
	if _, stderr, code = runPlugin(t, 30*time.Second, "stop", "-n", d.ns, "pod/"+d.name, session); code != 0 || !strings.Contains(stderr, "not running") {
		t.Fatalf("second stop: code %d\n%s", code, stderr)
	}
	assertNoHarm(t, d, 10*time.Second)
}

// TestJSONOutputToFile: -o json writes one JSON object per line, here into
// --output-file.
func TestJSONOutputToFile(t *testing.T) {
	t.Parallel()
	d := startDemo(t, newNamespace(t), nil)
	file := filepath.Join(t.TempDir(), "trace.json")
	_, stderr, code := runPlugin(t, 60*time.Second, "-n", d.ns, "pod/"+d.name, "-o", "json", "--output-file", file, "--duration", "2s",
		"-e", `BEGIN { printf("hello\n"); } interval:ms:100 { @ticks = count(); }`)
	if code != 0 {
		t.Fatalf("code %d\n%s", code, stderr)
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	types := map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var ev struct {
			Type string          `json:"type"`
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("line %q is not JSON: %v", sc.Text(), err)
		}
		types[ev.Type]++
	}
	if types["printf"] != 1 || types["map"] != 1 || types["attached_probes"] != 1 {
		t.Fatalf("want one attached_probes, printf and map object, got %v", types)
	}
	assertNoHarm(t, d, 10*time.Second)
}

// TestDryRun prints the patch and changes nothing.
func TestDryRun(t *testing.T) {
	t.Parallel()
	d := startDemo(t, newNamespace(t), nil)
	out, stderr, code := runPlugin(t, 30*time.Second, "-n", d.ns, "pod/"+d.name, "--dry-run", "-e", "BEGIN { exit(); }")
	if code != 0 {
		t.Fatalf("code %d\n%s", code, stderr)
	}
	var patch struct {
		Spec struct {
			EphemeralContainers []corev1.EphemeralContainer `json:"ephemeralContainers"`
		} `json:"spec"`
	}
	if err := json.Unmarshal([]byte(out), &patch); err != nil || len(patch.Spec.EphemeralContainers) != 1 ||
		patch.Spec.EphemeralContainers[0].TargetContainerName != "server" {
		t.Fatalf("dry run did not print the patch (%v):\n%s", err, out)
	}
	p, err := client.CoreV1().Pods(d.ns).Get(context.Background(), d.name, metav1.GetOptions{})
	if err != nil || len(p.Spec.EphemeralContainers) != 0 {
		t.Fatalf("dry run changed the pod (%v): %d ephemeral containers", err, len(p.Spec.EphemeralContainers))
	}
}

// TestCIExampleScript runs the README's CI script against the demo pod:
// with 3 good requests its assertions hold (exit 0, a report without
// failures); with 2, or with a failed lookup among them, the job fails
// with exit 14 and the report names the assertion.
func TestCIExampleScript(t *testing.T) {
	d := startDemo(t, newNamespace(t), nil)
	for _, run := range funcRuns {
		load := fmt.Sprintf("for i in $(seq %d); do curl -sf %s >/dev/null; done; for i in $(seq %d); do curl -s '%s?key=missing' >/dev/null; done",
			run.requests-run.failing, d.url(), run.failing, d.url())
		report := filepath.Join(t.TempDir(), "report.xml")
		cmd := exec.Command("bash", filepath.Join("..", "..", "scripts", "ci-example.sh"), d.ns, d.name, "bash", "-c", load)
		cmd.Env = append(os.Environ(), "TRACE_DEBUG="+pluginBin+" --kubeconfig "+kubeconfig, "JUNIT_REPORT="+report)
		out, _ := cmd.CombinedOutput()
		if code := cmd.ProcessState.ExitCode(); code != run.code {
			t.Fatalf("ci-example.sh, %+v: exit %d\n%s", run, code, out)
		}
		checkReport(t, report, run.failed, d.name)
	}
	assertNoHarm(t, d, 10*time.Second)
}
