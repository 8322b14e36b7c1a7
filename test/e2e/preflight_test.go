//go:build e2e

package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/trace-debug/kubectl-trace-debug/debug"
)

// assertNothingInjected checks that a refusal left the pod as it was.
func assertNothingInjected(t *testing.T, ns, pod string) {
	t.Helper()
	p, err := client.CoreV1().Pods(ns).Get(context.Background(), pod, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(p.Spec.EphemeralContainers); n != 0 {
		t.Fatalf("a refused trace added %d ephemeral containers to %s/%s", n, ns, pod)
	}
}

// TestRBAC: a user without the permissions is refused before anything is
// injected, with the missing verbs named; a user bound to deploy/rbac.yaml's
// ClusterRole can trace.
func TestRBAC(t *testing.T) {
	t.Parallel()
	d := startDemo(t, newNamespace(t), nil)
	_, stderr, code := runPlugin(t, 30*time.Second, "-n", d.ns, "--as", "e2e-nobody", "pod/"+d.name, "-e", "BEGIN { exit(); }")
	if code != debug.ExitForbidden {
		t.Fatalf("code %d, want %d\n%s", code, debug.ExitForbidden, stderr)
	}
	for _, verb := range []string{"get pods", "patch pods/ephemeralcontainers", "create pods/attach", "kind: Role"} {
		if !strings.Contains(stderr, verb) {
			t.Fatalf("the refusal does not name %q:\n%s", verb, stderr)
		}
	}
	assertNothingInjected(t, d.ns, d.name)

	bindTracerRole(t, d.ns, "e2e-tracer")
	out, stderr, code := runPlugin(t, 60*time.Second, "-n", d.ns, "--as", "e2e-tracer", "pod/"+d.name, "--duration", "1s",
		"-e", `interval:ms:100 { @ticks = count(); }`)
	if code != 0 || !strings.Contains(out, "@ticks:") {
		t.Fatalf("a user with deploy/rbac.yaml's role could not trace: code %d\n%s%s", code, out, stderr)
	}
	assertNoHarm(t, d, 10*time.Second)
}

// bindTracerRole grants user deploy/rbac.yaml's ClusterRole in ns.
func bindTracerRole(t *testing.T, ns, user string) {
	t.Helper()
	bindTracerRoleTo(t, ns, rbacv1.Subject{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: user})
}

// bindTracerRoleTo binds deploy/rbac.yaml's role to subject in ns.
func bindTracerRoleTo(t *testing.T, ns string, subject rbacv1.Subject) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "rbac.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var role rbacv1.ClusterRole
	if err := yaml.Unmarshal(b, &role); err != nil {
		t.Fatal(err)
	}
	role.Name = "trace-debug-user-" + ns
	ctx := context.Background()
	if _, err := client.RbacV1().ClusterRoles().Create(ctx, &role, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = client.RbacV1().ClusterRoles().Delete(context.Background(), role.Name, metav1.DeleteOptions{})
	})
	_, err = client.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "tracer-" + strings.ToLower(subject.Kind) + "-" + strings.ReplaceAll(subject.Name, ":", "-")},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{subject},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
}

// TestPodSecurity: a namespace enforcing baseline gets the explanation up
// front, and nothing is injected. A user who may not read the namespace
// gets the API server's own refusal, explained the same way.
func TestPodSecurity(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	d := startDemo(t, ns, nil)
	nsObj, err := client.CoreV1().Namespaces().Get(context.Background(), ns, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	nsObj.Labels["pod-security.kubernetes.io/enforce"] = "baseline"
	if _, err := client.CoreV1().Namespaces().Update(context.Background(), nsObj, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := runPlugin(t, 30*time.Second, "-n", ns, "pod/"+d.name, "-e", "BEGIN { exit(); }")
	if code != debug.ExitPodSecurity || !strings.Contains(stderr, `enforces the "baseline" level`) || !strings.Contains(stderr, "=privileged") {
		t.Fatalf("code %d, want %d with the explanation\n%s", code, debug.ExitPodSecurity, stderr)
	}
	assertNothingInjected(t, ns, d.name)

	bindTracerRole(t, ns, "e2e-psa-tracer")
	_, stderr, code = runPlugin(t, 30*time.Second, "-n", ns, "--as", "e2e-psa-tracer", "pod/"+d.name, "-e", "BEGIN { exit(); }")
	if code != debug.ExitPodSecurity || !strings.Contains(stderr, `violates PodSecurity "baseline`) || !strings.Contains(stderr, "=privileged") {
		t.Fatalf("API refusal: code %d, want %d with the API's message and the fix\n%s", code, debug.ExitPodSecurity, stderr)
	}
	assertNothingInjected(t, ns, d.name)
}

// TestUnsupportedPods: static (mirror) pods and Windows pods are refused
// with the reason.
func TestUnsupportedPods(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	manifests := os.Getenv("TRACE_DEBUG_STATIC_PODS")
	if manifests == "" {
		t.Fatal("set TRACE_DEBUG_STATIC_PODS to the kubelet's staticPodPath (scripts/test-e2e.sh does)")
	}
	static := podSpec("static", int(nextPort.Add(1)))
	static.Namespace = ns
	static.Spec.Containers = static.Spec.Containers[:1]
	b, err := yaml.Marshal(static)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(manifests, ns+".yaml")
	if err := os.WriteFile(file, append([]byte("apiVersion: v1\nkind: Pod\n"), b...), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(file) })
	mirror := "static-trace-debug-node"
	err = wait.PollUntilContextTimeout(context.Background(), 250*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		p, err := client.CoreV1().Pods(ns).Get(ctx, mirror, metav1.GetOptions{})
		return err == nil && p.Status.Phase == corev1.PodRunning, nil
	})
	if err != nil {
		t.Fatalf("static pod %s/%s did not run: %v", ns, mirror, err)
	}
	_, stderr, code := runPlugin(t, 30*time.Second, "-n", ns, "pod/"+mirror, "-e", "BEGIN { exit(); }")
	if code != debug.ExitUnsupportedPod || !strings.Contains(stderr, "static (mirror) pod") {
		t.Fatalf("static pod: code %d\n%s", code, stderr)
	}

	windows := podSpec("windows", 1)
	windows.Spec.OS = &corev1.PodOS{Name: corev1.Windows}
	windows.Spec.HostNetwork = false
	windows.Spec.Containers = windows.Spec.Containers[:1]
	windows.Spec.TerminationGracePeriodSeconds = ptr.To[int64](0)
	if _, err := client.CoreV1().Pods(ns).Create(context.Background(), windows, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, stderr, code = runPlugin(t, 30*time.Second, "-n", ns, "pod/windows", "-e", "BEGIN { exit(); }")
	if code != debug.ExitUnsupportedPod || !strings.Contains(stderr, "Windows pod") {
		t.Fatalf("windows pod: code %d\n%s", code, stderr)
	}
}

// TestStartTimeout: a tracer that is not running within --start-timeout
// ends the command with its own code; the tracer, never greeted, stops by
// itself.
func TestStartTimeout(t *testing.T) {
	t.Parallel()
	d := startDemo(t, newNamespace(t), nil)
	_, stderr, code := runPlugin(t, 30*time.Second, "-n", d.ns, "pod/"+d.name, "--start-timeout", "1ms", "-e", "BEGIN { exit(); }")
	if code != debug.ExitTimeout || !strings.Contains(stderr, "timed out") {
		t.Fatalf("code %d, want %d\n%s", code, debug.ExitTimeout, stderr)
	}
}

// TestDoctor: every check passes for a traceable pod, and the refusals of
// the trace itself show up as failed checks with the same exit codes.
func TestDoctor(t *testing.T) {
	t.Parallel()
	d := startDemo(t, newNamespace(t), nil)
	out, stderr, code := runPlugin(t, 30*time.Second, "doctor", "-n", d.ns, "pod/"+d.name)
	if code != 0 {
		t.Fatalf("doctor on a traceable pod: code %d\n%s%s", code, out, stderr)
	}
	for _, row := range []string{"permissions", "pod security", "pod ", "pid namespace", "node", "image"} {
		if !strings.Contains(out, row) {
			t.Fatalf("doctor lacks the %q check:\n%s", row, out)
		}
	}
	if strings.Contains(out, "fail") {
		t.Fatalf("a check failed:\n%s", out)
	}
	out, _, code = runPlugin(t, 30*time.Second, "doctor", "-n", d.ns, "--as", "e2e-nobody", "pod/"+d.name)
	if code != debug.ExitForbidden || !strings.Contains(out, "patch pods/ephemeralcontainers") {
		t.Fatalf("doctor for a user without permissions: code %d\n%s", code, out)
	}
	assertNothingInjected(t, d.ns, d.name)
}
