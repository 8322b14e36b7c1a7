//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// applyPolicy creates deploy/policy.yaml's policy and binding (cluster-wide;
// they apply only to members of trace-debug:tracers) and removes them after.
func applyPolicy(t *testing.T) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "policy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	docs := bytes.Split(b, []byte("\n---\n"))
	var policy admissionv1.ValidatingAdmissionPolicy
	var binding admissionv1.ValidatingAdmissionPolicyBinding
	if len(docs) != 2 || yaml.Unmarshal(docs[0], &policy) != nil || yaml.Unmarshal(docs[1], &binding) != nil {
		t.Fatalf("deploy/policy.yaml: want a policy and its binding")
	}
	ctx := context.Background()
	api := client.AdmissionregistrationV1()
	if _, err := api.ValidatingAdmissionPolicies().Create(ctx, &policy, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	if _, err := api.ValidatingAdmissionPolicyBindings().Create(ctx, &binding, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = api.ValidatingAdmissionPolicyBindings().Delete(context.Background(), binding.Name, metav1.DeleteOptions{})
		_ = api.ValidatingAdmissionPolicies().Delete(context.Background(), policy.Name, metav1.DeleteOptions{})
	})
}

// TestAdmissionPolicy: a user bound to the shipped role through the group
// trace-debug:tracers, with the shipped policy in place, traces; the same
// user's `kubectl debug --profile=sysadmin` with another image is refused
// with a message naming the policy, and so is the runner image with a shell.
func TestAdmissionPolicy(t *testing.T) {
	kubectl := os.Getenv("TRACE_DEBUG_KUBECTL")
	if kubectl == "" {
		t.Fatal("set TRACE_DEBUG_KUBECTL (scripts/test-e2e.sh does)")
	}
	d := startDemo(t, newNamespace(t), nil)
	applyPolicy(t)
	bindTracerRoleTo(t, d.ns, rbacv1.Subject{Kind: "Group", APIGroup: "rbac.authorization.k8s.io", Name: "trace-debug:tracers"})
	as := []string{"--as", "e2e-policy-user", "--as-group", "trace-debug:tracers"}

	debug := func(image string, command ...string) (string, error) {
		args := append([]string{"--kubeconfig", kubeconfig, "-n", d.ns, "debug", "pod/" + d.name, "--profile=sysadmin",
			"--target=server", "--image=" + image, "--attach=false"}, as...)
		out, err := exec.Command(kubectl, append(append(args, "--"), command...)...).CombinedOutput()
		return string(out), err
	}
	// The policy takes effect once the API server has loaded it.
	var out string
	var err error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		if out, err = debug(demoImage, "/bin/bash"); err != nil {
			break
		}
	}
	if err == nil || !strings.Contains(out, "trace-debug-tracers-only") || !strings.Contains(out, demoImage) {
		t.Fatalf("kubectl debug with another image was not refused by the policy: %v\n%s", err, out)
	}
	if out, err := debug(defaultRunnerImage(), "/bin/sh"); err == nil || !strings.Contains(out, "trace-debug-tracers-only") {
		t.Fatalf("the runner image with another entrypoint was not refused: %v\n%s", err, out)
	}

	stdout, stderr, code := runPlugin(t, 60*time.Second, append(as, "-n", d.ns, "pod/"+d.name, "--duration", "1s",
		"-e", `interval:ms:100 { @ticks = count(); }`)...)
	if code != 0 || !strings.Contains(stdout, "@ticks:") {
		t.Fatalf("a tracer user under the policy could not trace: code %d\n%s%s", code, stdout, stderr)
	}
	assertNoHarm(t, d, 30*time.Second)
}

// defaultRunnerImage is the runner image of this version.
func defaultRunnerImage() string {
	return strings.Replace(oldRunnerImage(), "trace-debug.local/runner-bpftrace017:", "ghcr.io/kubectl-trace-debug/runner:", 1)
}
