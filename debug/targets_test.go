package debug

import (
	"errors"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestIsPodTarget(t *testing.T) {
	for target, want := range map[string]bool{
		"web": true, "pod/web": true, "pods/web": true, "po/web": true, "Pod/web": true,
		"deploy/web": false, "deployment/web": false, "sts/db": false, "job/x": false,
	} {
		if got := isPodTarget(target); got != want {
			t.Errorf("isPodTarget(%q) = %v, want %v", target, got, want)
		}
	}
}

func TestPodSelector(t *testing.T) {
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	meta := metav1.ObjectMeta{Name: "web", Namespace: "shop"}
	for _, c := range []struct {
		name    string
		obj     runtime.Object
		want    string
		wantErr string
	}{
		{"deployment", &appsv1.Deployment{ObjectMeta: meta, Spec: appsv1.DeploymentSpec{Selector: sel}}, "app=web", ""},
		{"statefulset", &appsv1.StatefulSet{ObjectMeta: meta, Spec: appsv1.StatefulSetSpec{Selector: sel}}, "app=web", ""},
		{"daemonset", &appsv1.DaemonSet{ObjectMeta: meta, Spec: appsv1.DaemonSetSpec{Selector: sel}}, "app=web", ""},
		{"replicaset", &appsv1.ReplicaSet{ObjectMeta: meta, Spec: appsv1.ReplicaSetSpec{Selector: sel}}, "app=web", ""},
		{"job", &batchv1.Job{ObjectMeta: meta, Spec: batchv1.JobSpec{Selector: sel}}, "app=web", ""},
		{"replicationcontroller", &corev1.ReplicationController{ObjectMeta: meta, Spec: corev1.ReplicationControllerSpec{Selector: map[string]string{"app": "web"}}}, "app=web", ""},
		{"expressions", &appsv1.Deployment{ObjectMeta: meta, Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{
			MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"a", "b"}}}}}}, "tier in (a,b)", ""},
		{"empty selector", &appsv1.Deployment{ObjectMeta: meta, Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{}}}, "", "would match every pod"},
		{"a service", &corev1.Service{ObjectMeta: meta}, "", "no pods of its own"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ns, s, err := podSelector(c.name, c.obj)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) || ExitCode(err) != ExitUsage {
					t.Fatalf("err = %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil || ns != "shop" || s.String() != c.want {
				t.Fatalf("podSelector = %q, %v, %v; want shop, %q", ns, s, err, c.want)
			}
		})
	}
}

func TestPodTargets(t *testing.T) {
	running := func(name string) corev1.Pod {
		p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"}}
		p.Status.Phase = corev1.PodRunning
		return p
	}
	pending := running("c-pending")
	pending.Status.Phase = corev1.PodPending
	gone := running("d-gone")
	gone.DeletionTimestamp = &metav1.Time{}
	for _, c := range []struct {
		name    string
		pods    []corev1.Pod
		maxPods int
		running string
		code    int
		msg     string
	}{
		{"running ones kept, sorted, others skipped", []corev1.Pod{running("b"), pending, running("a"), gone}, 5, "a,b", 0, ""},
		{"over --max-pods", []corev1.Pod{running("a"), running("b"), running("c")}, 2, "a,b,c", ExitUsage, "3 running pods, more than --max-pods 2"},
		{"none running", []corev1.Pod{pending}, 5, "", ExitTargetNotFound, "none of its 1 pods is running (c-pending: not running (Pending))"},
		{"no pods", nil, 5, "", ExitTargetNotFound, "matches no pods"},
	} {
		t.Run(c.name, func(t *testing.T) {
			targets := splitRunning("deployment/web", c.pods)
			var names []string
			for _, p := range targets.Running {
				names = append(names, p.Name)
			}
			if strings.Join(names, ",") != c.running {
				t.Errorf("running = %v, want %s", names, c.running)
			}
			err := targets.check(c.maxPods)
			if ExitCode(err) != c.code || (c.msg != "" && !strings.Contains(err.Error(), c.msg)) {
				t.Fatalf("check = %v (code %d), want code %d with %q", err, ExitCode(err), c.code, c.msg)
			}
			if c.code == 0 && len(targets.Skipped) == 2 && !strings.Contains(describeTargets(targets), "skipped 2: c-pending: not running (Pending), d-gone: terminating") {
				t.Errorf("describe = %q", describeTargets(targets))
			}
		})
	}
}

func TestResolveError(t *testing.T) {
	deployments := schema.GroupResource{Group: "apps", Resource: "deployments"}
	for _, c := range []struct {
		err  error
		code int
		msg  string
	}{
		{apierrors.NewForbidden(deployments, "web", errors.New("no")), ExitForbidden, "deploy/rbac.yaml"},
		{apierrors.NewNotFound(deployments, "web"), ExitTargetNotFound, "kubectl get"},
		{errors.New(`the server doesn't have a resource type "nosuch"`), ExitUsage, "give pod/NAME"},
	} {
		err := resolveError("deploy/web", c.err)
		if ExitCode(err) != c.code || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("resolveError(%v) = %v (code %d), want code %d with %q", c.err, err, ExitCode(err), c.code, c.msg)
		}
	}
}
