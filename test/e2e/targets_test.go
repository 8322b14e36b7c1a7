//go:build e2e

package e2e

import (
	"context"
	"net/http"
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
// skipped; --max-pods refuses; a target with several running pods is
// refused naming them (a session spans one pod).
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
	if code != 0 || !strings.Contains(out, "hello from the pod") || !strings.Contains(stderr, "skipped 1: edge-pending: not running (Pending)") {
		t.Fatalf("-l tier=edge: code %d\n%s\n%s", code, out, stderr)
	}

	// A second running pod of the tier: two pods, one session each.
	startDemo(t, ns, func(p *corev1.Pod) { p.Labels = map[string]string{"tier": "edge"} })
	_, stderr, code = runPlugin(t, 30*time.Second, "-n", ns, "-l", "tier=edge", "-e", "BEGIN { exit(); }")
	if code != debug.ExitUsage || !strings.Contains(stderr, "2 running pod(s): demo, web-") || !strings.Contains(stderr, "a session traces one pod") {
		t.Fatalf("two running pods: code %d\n%s", code, stderr)
	}
	_, stderr, code = runPlugin(t, 30*time.Second, "-n", ns, "-l", "tier=edge", "--max-pods", "1", "-e", "BEGIN { exit(); }")
	if code != debug.ExitUsage || !strings.Contains(stderr, "2 running pods, more than --max-pods 1") {
		t.Fatalf("--max-pods 1: code %d\n%s", code, stderr)
	}
	_, stderr, code = runPlugin(t, 30*time.Second, "-n", ns, "-l", "tier=nowhere", "-e", "BEGIN { exit(); }")
	if code != debug.ExitTargetNotFound || !strings.Contains(stderr, "matches no pods") {
		t.Fatalf("a selector that matches nothing: code %d\n%s", code, stderr)
	}
}
