//go:build e2e

package e2e

import (
	"context"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"

	"github.com/trace-debug/kubectl-trace-debug/debug"
)

// TestWorkloadTargets: deploy/NAME and -l SELECTOR resolve, with kubectl's
// resource builder, to running pods; pods that do not run are named and
// skipped (exit 13: not every pod was traced); several running pods get one
// session, a tracer each, lines marked with their pod (text and JSON),
// Ctrl-C stops them all, and their maps are merged (or, --per-pod, shown
// per pod); --max-pods refuses.
func TestWorkloadTargets(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	port := int(nextPort.Add(1))
	template := podSpec("", port)
	template.Labels = map[string]string{"app": "web", "tier": "edge"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: template.ObjectMeta, Spec: template.Spec},
		},
	}
	if _, err := client.AppsV1().Deployments(ns).Create(context.Background(), dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	web := demoPod{ns: ns, port: port}
	if err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 90*time.Second, true, func(ctx context.Context) (bool, error) {
		if d, err := client.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{}); err != nil || d.Status.ReadyReplicas != 1 {
			return false, nil
		}
		resp, err := http.Get(web.url())
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return true, nil
	}); err != nil {
		t.Fatalf("the deployment's pod did not serve: %v", err)
	}
	// A pod of the same tier that never runs (no such node).
	pending := podSpec("edge-pending", int(nextPort.Add(1)))
	pending.Labels = map[string]string{"tier": "edge"}
	pending.Spec.NodeName = "no-such-node"
	if _, err := client.CoreV1().Pods(ns).Create(context.Background(), pending, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	s := startPlugin(t, "-n", ns, "deploy/web", "-e", ready+counterProbe+` { @calls = count(); }`)
	s.waitOutput(t, "tracing\n", 60*time.Second)
	web.request(t, 2)
	s.interrupt(t)
	if code := s.wait(t, 60*time.Second); code != 0 || mapValue(t, s.stdout.String(), "@calls") != 2 || !strings.Contains(s.stderr.String(), "deployment/web: 1 running pod(s): web-") {
		t.Fatalf("deploy/web: code %d\n%s\n%s", code, s.stdout, s.stderr)
	}

	out, stderr, code := runPlugin(t, 60*time.Second, "-n", ns, "-l", "tier=edge", "-e", `BEGIN { printf("hello from the pod\n"); exit(); }`)
	if code != debug.ExitPartial || !strings.Contains(out, "hello from the pod") || !strings.Contains(stderr, "skipped 1: edge-pending: not running (Pending)") {
		t.Fatalf("-l tier=edge, one pod running, one pending: code %d, want %d\n%s\n%s", code, debug.ExitPartial, out, stderr)
	}

	// A second running pod of the tier: one session across both pods, each
	// counting its own calls, lines marked with their pod.
	demo := startDemo(t, ns, func(p *corev1.Pod) { p.Labels = map[string]string{"tier": "edge"} })
	pods, err := client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil || len(pods.Items) != 1 {
		t.Fatalf("the deployment's pod: %v", err)
	}
	webPod := pods.Items[0].Name
	group := func(extra ...string) *session {
		g := startPlugin(t, append([]string{"-n", ns, "-l", "tier=edge", "-e", ready + counterProbe + ` { @calls = count(); @lat = hist(42); @avg = avg(pid > 0 ? 10 : 0); }`}, extra...)...)
		g.waitOutput(t, "["+webPod+"] tracing\n", 60*time.Second)
		g.waitOutput(t, "[demo] tracing\n", 60*time.Second)
		web.request(t, 2)
		demo.request(t, 1)
		g.interrupt(t)
		if code := g.wait(t, 60*time.Second); code != debug.ExitPartial || !strings.Contains(g.stderr.String(), "[edge-pending] not traced: not running (Pending)") ||
			!strings.Contains(g.stderr.String(), "[demo] session trace-debug-") {
			t.Fatalf("one session over two pods: code %d, want %d\n%s\n%s", code, debug.ExitPartial, g.stdout, g.stderr)
		}
		return g
	}
	// Merged: the maps one tracer would print had it seen both pods.
	g := group()
	if mapValue(t, g.stdout.String(), "@calls") != 3 || mapValue(t, g.stdout.String(), "@avg") != 10 ||
		!strings.Contains(g.stdout.String(), "@lat:\n[32, 64)               3 |@@@@") || strings.Contains(g.stdout.String(), "] @calls") {
		t.Fatalf("merged maps: want @calls: 3 and @lat's 3 values, once\n%s\n%s", g.stdout, g.stderr)
	}
	// The group's session, seen and stopped from another client: list and
	// logs show it in both pods, stop ends every tracer, and the attached
	// client prints the merged maps.
	g = startPlugin(t, "-n", ns, "-l", "tier=edge", "-e", ready+counterProbe+` { @calls = count(); }`)
	g.waitOutput(t, "["+webPod+"] tracing\n", 60*time.Second)
	g.waitOutput(t, "[demo] tracing\n", 60*time.Second)
	name := tracerName(t, g.stderr.String())
	listed, _, _ := runPlugin(t, 30*time.Second, "list", "-n", ns, "-l", "tier=edge")
	if strings.Count(listed, name) != 2 {
		t.Fatalf("list -l: want session %s in both pods:\n%s", name, listed)
	}
	web.request(t, 1)
	demo.request(t, 1)
	_, stderr, code = runPlugin(t, 60*time.Second, "stop", "-n", ns, "-l", "tier=edge", name)
	if code != 0 || !strings.Contains(stderr, "[demo] trace-debug: session "+name+" stopped") || !strings.Contains(stderr, "["+webPod+"] trace-debug: session "+name+" stopped") {
		t.Fatalf("stop -l: code %d\n%s", code, stderr)
	}
	if code := g.wait(t, 60*time.Second); code != debug.ExitPartial || mapValue(t, g.stdout.String(), "@calls") != 2 {
		t.Fatalf("the group's client after stop: code %d\n%s\n%s", code, g.stdout, g.stderr)
	}
	logs, _, code := runPlugin(t, 30*time.Second, "logs", "-n", ns, "deploy/web", name)
	if code != 0 || !strings.Contains(logs, "["+webPod+"] tracing") || strings.Contains(logs, "[demo]") {
		t.Fatalf("logs deploy/web: code %d\n%s", code, logs)
	}

	// --per-pod: each pod's own.
	g = group("--per-pod")
	if mapValue(t, g.stdout.String(), "["+webPod+"] @calls") != 2 || mapValue(t, g.stdout.String(), "[demo] @calls") != 1 {
		t.Fatalf("--per-pod maps:\n%s\n%s", g.stdout, g.stderr)
	}
	out, stderr, _ = runPlugin(t, 60*time.Second, "-n", ns, "-l", "tier=edge", "-o", "json", "-e", `BEGIN { printf("hi\n"); exit(); }`)
	if !strings.Contains(out, `{"pod": "demo", "type": "printf"`) || !strings.Contains(out, `{"pod": "`+webPod+`", "type": "printf"`) {
		t.Fatalf("-o json over two pods: no pod fields\n%s\n%s", out, stderr)
	}
	assertNoHarm(t, demo, 30*time.Second)

	_, stderr, code = runPlugin(t, 30*time.Second, "-n", ns, "-l", "tier=edge", "--max-pods", "1", "-e", "BEGIN { exit(); }")
	if code != debug.ExitUsage || !strings.Contains(stderr, "2 running pods, more than --max-pods 1") {
		t.Fatalf("--max-pods 1: code %d\n%s", code, stderr)
	}
	_, stderr, code = runPlugin(t, 30*time.Second, "-n", ns, "-l", "tier=nowhere", "-e", "BEGIN { exit(); }")
	if code != debug.ExitTargetNotFound || !strings.Contains(stderr, "matches no pods") {
		t.Fatalf("a selector that matches nothing: code %d\n%s", code, stderr)
	}
}

// TestGroupAcrossNodes: a 3-replica Deployment spread over the local
// cluster's two nodes, traced as one session with deploy/ and with -l, each
// pod driven with its own number of requests: the merged @calls is the
// total, --per-pod shows each pod's share, nothing outlives the session.
func TestGroupAcrossNodes(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	labels := map[string]string{"app": "spread"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "spread"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](3),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: ptr.To[int64](0),
					Tolerations:                   []corev1.Toleration{{Key: "trace-debug.io/second-node", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}},
					TopologySpreadConstraints: []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "kubernetes.io/hostname",
						WhenUnsatisfiable: corev1.DoNotSchedule, LabelSelector: &metav1.LabelSelector{MatchLabels: labels}}},
					Containers: []corev1.Container{{Name: "server", Image: demoImage, ImagePullPolicy: corev1.PullNever,
						Command: []string{"/app/server", "-listen", "0.0.0.0:8080"}}},
				},
			},
		},
	}
	if _, err := client.AppsV1().Deployments(ns).Create(context.Background(), dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var pods []corev1.Pod
	if err := wait.PollUntilContextTimeout(context.Background(), 250*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		l, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=spread"})
		if err != nil || len(l.Items) != 3 {
			return false, nil
		}
		for _, p := range l.Items {
			if p.Status.Phase != corev1.PodRunning || p.Status.PodIP == "" {
				return false, nil
			}
			resp, err := http.Get("http://" + p.Status.PodIP + ":8080/")
			if err != nil {
				return false, nil
			}
			resp.Body.Close()
		}
		pods = l.Items
		return true, nil
	}); err != nil {
		t.Fatalf("the spread deployment did not serve on its 3 pods: %v", err)
	}
	nodes := map[string]bool{}
	for _, p := range pods {
		nodes[p.Spec.NodeName] = true
	}
	if len(nodes) != 2 {
		t.Fatalf("the pods are on %d node(s), want both: %v", len(nodes), nodes)
	}
	drive := func() {
		for i, p := range pods {
			for n := 0; n <= i; n++ { // 1, 2 and 3 requests
				resp, err := http.Get("http://" + p.Status.PodIP + ":8080/")
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
			}
		}
	}
	run := func(args ...string) *session {
		s := startPlugin(t, append([]string{"-n", ns, "-e", ready + counterProbe + ` { @calls = count(); }`}, args...)...)
		for _, p := range pods {
			s.waitOutput(t, "["+p.Name+"] tracing\n", 90*time.Second)
		}
		drive()
		s.interrupt(t)
		if code := s.wait(t, 90*time.Second); code != 0 {
			t.Fatalf("%v: code %d\n%s\n%s", args, code, s.stdout, s.stderr)
		}
		return s
	}
	if s := run("deploy/spread"); mapValue(t, s.stdout.String(), "@calls") != 6 {
		t.Fatalf("deploy/spread over two nodes: merged @calls, want 1+2+3\n%s\n%s", s.stdout, s.stderr)
	}
	s := run("-l", "app=spread", "--per-pod")
	for i, p := range pods {
		if got := mapValue(t, s.stdout.String(), "["+p.Name+"] @calls"); got != i+1 {
			t.Fatalf("--per-pod: pod %s on %s counted %d, want %d\n%s", p.Name, p.Spec.NodeName, got, i+1, s.stdout)
		}
	}
	// Assertions read the merged maps: a map keyed by comm, one keyed by a
	// stack (printed over several lines) and a histogram's percentile hold
	// only for the three pods' events together.
	report := filepath.Join(t.TempDir(), "report.xml")
	a := startPlugin(t, "-n", ns, "deploy/spread", "-e", ready+counterProbe+` { @[comm] = count(); @h = hist(42); @st[ustack(1)] = count(); }`, "--junit", report,
		"--assert", `@["server"] == 6`, "--assert", `@h.p99 == 63 && @h.count == 6`, "--assert", `size(@st) == 1 && @st.all(k, @st[k] == 6)`, "--assert", `@["server"] > 6`)
	for _, p := range pods {
		a.waitOutput(t, "["+p.Name+"] tracing\n", 90*time.Second)
	}
	drive()
	a.interrupt(t)
	if code := a.wait(t, 90*time.Second); code != debug.ExitAssertFailed || !strings.Contains(a.stderr.String(), `assertion @["server"] == 6 held`) ||
		!strings.Contains(a.stderr.String(), `assertion @h.p99 == 63 && @h.count == 6 held`) ||
		!strings.Contains(a.stderr.String(), `assertion size(@st) == 1 && @st.all(k, @st[k] == 6) held`) ||
		!strings.Contains(a.stderr.String(), `assertion @["server"] > 6 failed; saw @ = {"server": 6}`) || !regexp.MustCompile(`(?m)^@st\[\n +\S+\n\]: 6$`).MatchString(a.stdout.String()) {
		t.Fatalf("--assert over three pods: code %d, want %d with three held and one failed, the stack-keyed map merged\n%s\n%s", code, debug.ExitAssertFailed, a.stdout, a.stderr)
	}
	if r := readReport(t, report); r.Tests != 5 || failed(r) != `assert @["server"] > 6` || strings.Count(r.Properties["pods"], ",") != 2 {
		t.Fatalf("--assert over three pods: report with %d cases, failed %q, pods %q", r.Tests, failed(r), r.Properties["pods"])
	}
	// The native engines merge the same way.
	f := startPlugin(t, "-n", ns, "deploy/spread", "--func", "main.counterValue")
	for _, p := range pods {
		f.waitOutput(t, "["+p.Name+"] trace-debug-runner: probes attached", 90*time.Second)
	}
	drive()
	// Each call is printed as its event arrives: stop once all six are in.
	for deadline := time.Now().Add(30 * time.Second); strings.Count(f.stdout.String(), "main.counterValue = ") < 6 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	f.interrupt(t)
	if code := f.wait(t, 90*time.Second); code != 0 || mapValue(t, f.stdout.String(), "@calls[main.counterValue]") != 6 ||
		!strings.Contains(f.stdout.String(), "@latency_us[main.counterValue]:\n") {
		t.Fatalf("--func over three pods: code %d, want the merged @calls 6 and latency\n%s\n%s", code, f.stdout, f.stderr)
	}
	c := startPlugin(t, "-n", ns, "deploy/spread", "--syscalls")
	for _, p := range pods {
		c.waitOutput(t, "["+p.Name+"] trace-debug-runner: probes attached", 90*time.Second)
	}
	drive()
	c.interrupt(t)
	if code := c.wait(t, 90*time.Second); code != 0 || !regexp.MustCompile(`(?m)^@syscalls\[accept4\]: \d+$`).MatchString(c.stdout.String()) || strings.Contains(c.stdout.String(), "] @syscalls") {
		t.Fatalf("--syscalls over three pods: code %d, want the merged @syscalls\n%s\n%s", code, c.stdout, c.stderr)
	}

	// Detached: the session's name once, then stop and logs on the group.
	out, stderr, code := runPlugin(t, 90*time.Second, "-n", ns, "-l", "app=spread", "--detach", "-e", counterProbe+` { @calls = count(); }`)
	name := strings.TrimSpace(out)
	if code != 0 || strings.Count(out, "\n") != 1 || !strings.HasPrefix(name, "trace-debug-") || !strings.Contains(stderr, "runs detached in 3 pods") {
		t.Fatalf("--detach over three pods: code %d\n%s\n%s", code, out, stderr)
	}
	drive()
	if _, stderr, code = runPlugin(t, 60*time.Second, "stop", "-n", ns, "deploy/spread", name); code != 0 || strings.Count(stderr, "session "+name+" stopped") != 3 {
		t.Fatalf("stop deploy/spread: code %d\n%s", code, stderr)
	}
	logs, _, _ := runPlugin(t, 30*time.Second, "logs", "-n", ns, "-l", "app=spread", name)
	if mapValue(t, logs, "@calls") != 6 || strings.Contains(logs, "] @calls") {
		t.Fatalf("logs -l after a detached run: want the merged @calls 6\n%s", logs)
	}
	for i, p := range pods { // one pod's log is that pod's
		logs, _, _ := runPlugin(t, 30*time.Second, "logs", "-n", ns, "pod/"+p.Name, name)
		if got := mapValue(t, logs, "@calls"); got != i+1 {
			t.Fatalf("logs pod/%s: counted %d, want %d\n%s", p.Name, got, i+1, logs)
		}
	}
	for _, p := range pods {
		assertNoHarm(t, demoPod{ns: ns, name: p.Name}, 60*time.Second)
	}
}
