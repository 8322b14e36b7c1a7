package kube

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"sigs.k8s.io/yaml"

	"github.com/trace-debug/kubectl-trace-debug/debug/exit"
)

// These tests run the client's API logic against client-go's fake
// clientset: what it asks the API server and what it makes of the answers.

func init() {
	// The fake clientset's watches do not stream the initial list (no
	// bookmark ends it): let the reflector list, then watch.
	_ = os.Setenv("KUBE_FEATURE_WatchListClient", "false")
}

// tracerPod is a running pod whose tracer container "t" has state st.
func tracerPod(st corev1.ContainerState) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns"}}
	p.Status.EphemeralContainerStatuses = []corev1.ContainerStatus{{Name: "t", State: st}}
	return p
}

func TestWatchTracer(t *testing.T) {
	waiting := corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}
	running := corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	pulling := corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImagePull", Message: "not found"}}
	for _, c := range []struct {
		name    string
		updates []corev1.ContainerState
		code    int // 0: it starts
	}{
		{"starts", []corev1.ContainerState{waiting, running}, 0},
		{"image cannot be pulled", []corev1.ContainerState{waiting, pulling}, exit.Image},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := tracerPod(c.updates[0])
			client := fake.NewClientset(p)
			w := watch.NewFake()
			client.PrependWatchReactor("pods", k8stesting.DefaultWatchReactor(w, nil))
			go func() {
				for _, st := range c.updates[1:] {
					w.Modify(tracerPod(st))
				}
			}()
			var progress bytes.Buffer
			k := Clients{Client: client, Namespace: p.Namespace}
			st, err := k.WatchContainer(context.Background(), p.Name, "t", UntilStarted("t", 10*time.Second, &progress))
			if got := exit.Code(err); got != c.code {
				t.Fatalf("exit %d (%v), want %d", got, err, c.code)
			}
			if c.code == 0 && st.Running == nil {
				t.Fatalf("state %+v, want running", st)
			}
			if !strings.Contains(progress.String(), "ContainerCreating") {
				t.Errorf("no progress line for the wait:\n%s", progress.String())
			}
		})
	}
}

func TestPodSecurityProblem(t *testing.T) {
	for level, refused := range map[string]bool{"": false, "privileged": false, "baseline": true, "restricted": true} {
		err := PodSecurityProblem("ns", level)
		if (err != nil) != refused {
			t.Errorf("%q: got %v, want refused=%v", level, err, refused)
			continue
		}
		if err != nil && (exit.Code(err) != exit.PodSecurity || !strings.Contains(err.Error(), `enforces the "`+level+`" level`)) {
			t.Errorf("%q: got %v (code %d)", level, err, exit.Code(err))
		}
	}
}

func TestRoleFor(t *testing.T) {
	role := RoleFor("team-a", []Access{{"patch", "pods", "ephemeralcontainers"}, {"get", "pods", ""}})
	var got struct {
		Kind     string
		Metadata struct{ Name, Namespace string }
		Rules    []struct {
			Resources []string
			Verbs     []string
		}
	}
	if err := yaml.Unmarshal([]byte(role), &got); err != nil {
		t.Fatalf("the Role is not valid YAML: %v\n%s", err, role)
	}
	if got.Kind != "Role" || got.Metadata.Namespace != "team-a" || len(got.Rules) != 2 ||
		got.Rules[0].Resources[0] != "pods/ephemeralcontainers" || got.Rules[0].Verbs[0] != "patch" || got.Rules[1].Resources[0] != "pods" {
		t.Fatalf("unexpected Role:\n%s", role)
	}
}

func TestResolveError(t *testing.T) {
	deployments := schema.GroupResource{Group: "apps", Resource: "deployments"}
	for _, c := range []struct {
		err  error
		code int
		msg  string
	}{
		{apierrors.NewForbidden(deployments, "web", errors.New("no")), exit.Forbidden, "deploy/rbac.yaml"},
		{apierrors.NewNotFound(deployments, "web"), exit.TargetNotFound, "kubectl get"},
		{errors.New(`the server doesn't have a resource type "nosuch"`), exit.Usage, "resource type"},
	} {
		err := resolveError("deploy/web", c.err)
		if exit.Code(err) != c.code || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("resolveError(%v) = %v (code %d), want code %d with %q", c.err, err, exit.Code(err), c.code, c.msg)
		}
	}
}

// The API's refusals of the tracer become exit codes with their reasons.
func TestInjectError(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns"}}
	pods := schema.GroupResource{Resource: "pods"}
	noSubresource := apierrors.NewNotFound(pods, "")
	for _, c := range []struct {
		err  error
		code int
		msg  string
	}{
		{noSubresource, exit.UnsupportedPod, "Kubernetes 1.25 or later"},
		{apierrors.NewForbidden(pods, "web", errors.New(`violates PodSecurity "baseline:latest"`)), exit.PodSecurity, "enforce=privileged"},
		{apierrors.NewForbidden(pods, "web", errors.New("static pods do not support ephemeral containers")), exit.UnsupportedPod, "static pods"},
		{apierrors.NewForbidden(pods, "web", errors.New("no")), exit.Forbidden, "permissions listed in the README"},
		{apierrors.NewNotFound(pods, "web"), exit.TargetNotFound, "not found"},
		{apierrors.NewUnauthorized("who?"), exit.Forbidden, "credentials were refused"},
		{errors.New("connection refused"), exit.Internal, "connection refused"},
	} {
		err := InjectError(c.err, pod)
		if exit.Code(err) != c.code || !strings.Contains(err.Error(), c.msg) || !strings.Contains(err.Error(), "pod ns/web") {
			t.Errorf("InjectError(%v) = %v (code %d), want code %d with %q", c.err, err, exit.Code(err), c.code, c.msg)
		}
	}
	if fix, ok := exit.FixOf(APIError(apierrors.NewUnauthorized("who?"), "get", "")); !ok || fix.Setting != exit.Credentials {
		t.Errorf("an unauthorized error's fix = %+v, %v; want the credentials", fix, ok)
	}
}

// A selector resolves to its running pods, in order, naming the others;
// a bad selector is a usage error, and a workload needs a resource mapping.
func TestResolveSelector(t *testing.T) {
	pod := func(name, ns string, phase corev1.PodPhase) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": "web"}}}
		p.Status.Phase = phase
		return p
	}
	c := Clients{Client: fake.NewClientset(pod("b", "ns", corev1.PodRunning), pod("a", "ns", corev1.PodRunning), pod("p", "ns", corev1.PodPending), pod("x", "other", corev1.PodRunning)), Namespace: "ns"}
	got, err := c.Resolve(context.Background(), "", "app=web", false)
	if err != nil || len(got.Running) != 2 || got.Running[0].Name != "a" || len(got.Skipped) != 1 || !strings.Contains(got.What, "app=web") {
		t.Fatalf("Resolve = %+v, %v", got, err)
	}
	if all, err := c.Resolve(context.Background(), "", "app=web", true); err != nil || len(all.Running) != 3 {
		t.Fatalf("every namespace: %d running, %v; want 3", len(all.Running), err)
	}
	if _, err := c.Resolve(context.Background(), "", "app in (", false); exit.Code(err) != exit.Usage {
		t.Fatalf("a bad selector: %v, want a usage error", err)
	}
	if _, err := c.Resolve(context.Background(), "deploy/web", "", false); exit.Code(err) != exit.Internal {
		t.Fatalf("a workload without a mapping: %v", err)
	}
}

// Clients come from kubectl's settings: the kubeconfig's namespace, and a
// rate limit that starts many pods at once.
func TestNew(t *testing.T) {
	dir := t.TempDir()
	cfg := `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u, namespace: shop}}]
current-context: x
`
	path := dir + "/config"
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig = &path
	c, err := New(flags)
	if err != nil || c.Namespace != "shop" || c.RESTConfig.QPS != 50 || c.Getter == nil {
		t.Fatalf("New = %+v, %v", c, err)
	}
	bad := dir + "/missing"
	flags.KubeConfig = &bad
	if _, err := New(flags); exit.Code(err) != exit.Usage {
		t.Fatalf("a missing kubeconfig: %v, want a usage error", err)
	}
}
