package pods

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"github.com/trace-debug/kubectl-trace-debug/debug/exit"
)

func TestParseTarget(t *testing.T) {
	for _, c := range []struct {
		in, name string
		code     int
	}{
		{"web", "web", 0},
		{"pod/web", "web", 0},
		{"pods/web", "web", 0},
		{"po/web", "web", 0},
		{"Pod/web", "web", 0},
		{"deploy/web", "", exit.Usage},
		{"pod/", "", exit.Usage},
		{"pod/a/b", "", exit.Usage},
	} {
		name, err := ParseTarget(c.in)
		if name != c.name || exit.Code(err) != c.code {
			t.Errorf("ParseTarget(%q) = %q, %v (code %d); want %q, code %d", c.in, name, err, exit.Code(err), c.name, c.code)
		}
	}
}

func pod(containers ...string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns"}}
	for _, c := range containers {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c})
	}
	return p
}

func TestChooseContainer(t *testing.T) {
	annotated := pod("app", "sidecar")
	annotated.Annotations = map[string]string{defaultContainerAnnotation: "sidecar"}
	staleAnnotation := pod("app", "sidecar")
	staleAnnotation.Annotations = map[string]string{defaultContainerAnnotation: "gone"}
	for _, c := range []struct {
		name      string
		pod       *corev1.Pod
		requested string
		want      string
		code      int
		msg       string
	}{
		{"only container", pod("app"), "", "app", 0, ""},
		{"requested", pod("app", "sidecar"), "sidecar", "sidecar", 0, ""},
		{"requested wins over annotation", annotated, "app", "app", 0, ""},
		{"annotation", annotated, "", "sidecar", 0, ""},
		{"unknown requested", pod("app"), "nope", "", exit.TargetNotFound, `has no container "nope"; its containers are: app`},
		{"ambiguous", pod("app", "sidecar"), "", "", exit.Usage, "has 2 containers (app, sidecar)"},
		{"stale annotation is ambiguous", staleAnnotation, "", "", exit.Usage, "has 2 containers"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := ChooseContainer(c.pod, c.requested)
			if got != c.want || exit.Code(err) != c.code {
				t.Fatalf("got %q, %v (code %d); want %q, code %d", got, err, exit.Code(err), c.want, c.code)
			}
			if err != nil && !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("error %q lacks %q", err, c.msg)
			}
		})
	}
}

func TestCheckPod(t *testing.T) {
	running := func(mutate func(*corev1.Pod)) *corev1.Pod {
		p := pod("app")
		p.Status.Phase = corev1.PodRunning
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{
			Name: "app", ContainerID: "containerd://abc123",
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
		}}
		if mutate != nil {
			mutate(p)
		}
		return p
	}
	for _, c := range []struct {
		name string
		pod  *corev1.Pod
		id   string
		code int
		msg  string
	}{
		{"running", running(nil), "abc123", 0, ""},
		{"pending", running(func(p *corev1.Pod) { p.Status.Phase = corev1.PodPending }), "", exit.TargetNotFound, "is Pending, not Running"},
		{"deleting", running(func(p *corev1.Pod) { p.DeletionTimestamp = &metav1.Time{} }), "", exit.TargetNotFound, "being deleted"},
		{"mirror", running(func(p *corev1.Pod) { p.Annotations = map[string]string{mirrorPodAnnotation: "x"} }), "", exit.UnsupportedPod, "static (mirror) pod"},
		{"windows", running(func(p *corev1.Pod) { p.Spec.OS = &corev1.PodOS{Name: corev1.Windows} }), "", exit.UnsupportedPod, "Windows"},
		{"container waiting", running(func(p *corev1.Pod) {
			p.Status.ContainerStatuses[0].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}
		}), "", exit.TargetNotFound, "not running (waiting: CrashLoopBackOff)"},
		{"no status", running(func(p *corev1.Pod) { p.Status.ContainerStatuses = nil }), "", exit.TargetNotFound, "no status yet"},
	} {
		t.Run(c.name, func(t *testing.T) {
			id, err := CheckPod(c.pod, "app")
			if id != c.id || exit.Code(err) != c.code {
				t.Fatalf("got %q, %v (code %d); want %q, code %d", id, err, exit.Code(err), c.id, c.code)
			}
			if err != nil && !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("error %q lacks %q", err, c.msg)
			}
		})
	}
}

func TestSharesPIDNamespace(t *testing.T) {
	for _, c := range []struct {
		name string
		spec corev1.PodSpec
		want bool
	}{
		{"per container", corev1.PodSpec{}, false},
		{"shareProcessNamespace", corev1.PodSpec{ShareProcessNamespace: ptr.To(true)}, true},
		{"shareProcessNamespace false", corev1.PodSpec{ShareProcessNamespace: ptr.To(false)}, false},
		{"hostPID", corev1.PodSpec{HostPID: true}, true},
	} {
		if got := SharesPIDNamespace(&corev1.Pod{Spec: c.spec}); got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}

// A pod with many earlier sessions gets a warning with the count and size.
func TestSessionsWarning(t *testing.T) {
	p := &corev1.Pod{}
	p.Name, p.Namespace = "web", "ns"
	if w := SessionsWarning(p); w != "" {
		t.Fatalf("warning for a pod without sessions: %q", w)
	}
	for i := 0; i < ManySessions; i++ {
		p.Spec.EphemeralContainers = append(p.Spec.EphemeralContainers, corev1.EphemeralContainer{})
	}
	if w := SessionsWarning(p); !strings.Contains(w, "20 ephemeral containers") || !strings.Contains(w, "KiB") {
		t.Fatalf("warning = %q", w)
	}
}

func TestIsPodTarget(t *testing.T) {
	for target, want := range map[string]bool{
		"web": true, "pod/web": true, "pods/web": true, "po/web": true, "Pod/web": true,
		"deploy/web": false, "deployment/web": false, "sts/db": false, "job/x": false,
	} {
		if got := IsPodTarget(target); got != want {
			t.Errorf("IsPodTarget(%q) = %v, want %v", target, got, want)
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
			ns, s, err := Selector(c.name, c.obj)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) || exit.Code(err) != exit.Usage {
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
		{"none running", []corev1.Pod{pending}, 5, "", exit.TargetNotFound, "none of its 1 pods is running (c-pending: not running (Pending))"},
		{"no pods", nil, 5, "", exit.TargetNotFound, "matches no pods"},
	} {
		t.Run(c.name, func(t *testing.T) {
			targets := Split("deployment/web", c.pods)
			var names []string
			for _, p := range targets.Running {
				names = append(names, p.Name)
			}
			if strings.Join(names, ",") != c.running {
				t.Errorf("running = %v, want %s", names, c.running)
			}
			err := targets.Check()
			if exit.Code(err) != c.code || (c.msg != "" && !strings.Contains(err.Error(), c.msg)) {
				t.Fatalf("check = %v (code %d), want code %d with %q", err, exit.Code(err), c.code, c.msg)
			}
			if c.code == 0 && len(targets.Skipped) == 2 && !strings.Contains(targets.Describe(), "skipped 2: c-pending: not running (Pending), d-gone: terminating") {
				t.Errorf("describe = %q", targets.Describe())
			}
		})
	}
}

func TestWaitingProblem(t *testing.T) {
	for _, c := range []struct {
		reason string
		fatal  bool
	}{
		{"ContainerCreating", false},
		{"PodInitializing", false},
		{"ErrImagePull", true},
		{"ImagePullBackOff", true},
		{"ErrImageNeverPull", true},
		{"InvalidImageName", true},
		{"CreateContainerConfigError", true},
		{"RunContainerError", true},
	} {
		err := WaitingProblem("trace-debug-x", &corev1.ContainerStateWaiting{Reason: c.reason, Message: "because"})
		if (err != nil) != c.fatal {
			t.Errorf("%s: error %v, want fatal=%v", c.reason, err, c.fatal)
			continue
		}
		if err != nil && (exit.Code(err) != exit.Image || !strings.Contains(err.Error(), c.reason+": because")) {
			t.Errorf("%s: got %v (code %d)", c.reason, err, exit.Code(err))
		}
	}
	if WaitingProblem("x", nil) != nil {
		t.Error("nil waiting state is no problem")
	}
}
