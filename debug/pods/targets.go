package pods

import (
	"fmt"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/trace-debug/kubectl-trace-debug/debug/exit"
)

// Skipped is a pod that a target matched and that is not traced.
type Skipped struct {
	Pod    string
	Reason string
}

// Targets are the pods a workload or selector resolved to.
type Targets struct {
	// What names the target for messages: "deployment/web", "the pods
	// labelled app=web".
	What    string
	Running []corev1.Pod
	Skipped []Skipped
}

// Split keeps the pods that can be traced, sorted by namespace and name,
// and gives the others with why.
func Split(what string, pods []corev1.Pod) Targets {
	sort.Slice(pods, func(i, j int) bool {
		if pods[i].Namespace != pods[j].Namespace {
			return pods[i].Namespace < pods[j].Namespace
		}
		return pods[i].Name < pods[j].Name
	})
	t := Targets{What: what}
	for _, p := range pods {
		switch {
		case p.DeletionTimestamp != nil:
			t.Skipped = append(t.Skipped, Skipped{p.Name, "terminating"})
		case p.Status.Phase != corev1.PodRunning:
			t.Skipped = append(t.Skipped, Skipped{p.Name, "not running (" + string(p.Status.Phase) + ")"})
		default:
			t.Running = append(t.Running, p)
		}
	}
	return t
}

// Check refuses a target with no running pod.
func (t Targets) Check() error {
	switch {
	case len(t.Running) == 0 && len(t.Skipped) == 0:
		return exit.Codef(exit.TargetNotFound, "resolve %s: it matches no pods; check the name, the selector and the namespace", t.What)
	case len(t.Running) == 0:
		return exit.Codef(exit.TargetNotFound, "resolve %s: none of its %d pods is running (%s); trace it once they run", t.What, len(t.Skipped), t.SkippedList())
	}
	return nil
}

// SkippedList names the skipped pods with why, for messages.
func (t Targets) SkippedList() string {
	parts := make([]string, len(t.Skipped))
	for i, s := range t.Skipped {
		parts[i] = s.Pod + ": " + s.Reason
	}
	return strings.Join(parts, ", ")
}

// Describe is the progress line naming what a target resolved to.
func (t Targets) Describe() string {
	names := make([]string, len(t.Running))
	for i, p := range t.Running {
		names[i] = p.Name
	}
	s := fmt.Sprintf("%s: %d running pod(s): %s", t.What, len(t.Running), strings.Join(names, ", "))
	if len(t.Skipped) > 0 {
		s += fmt.Sprintf("; skipped %d: %s", len(t.Skipped), t.SkippedList())
	}
	return s
}

// Pointers returns pointers to the running pods, in order.
func (t Targets) Pointers() []*corev1.Pod {
	ptrs := make([]*corev1.Pod, len(t.Running))
	for i := range t.Running {
		ptrs[i] = &t.Running[i]
	}
	return ptrs
}

// Selector is the namespace and the pod selector of a workload of the
// given kind.
func Selector(kind string, obj runtime.Object) (string, labels.Selector, error) {
	var (
		meta metav1.ObjectMeta
		sel  *metav1.LabelSelector
	)
	switch w := obj.(type) {
	case *appsv1.Deployment:
		meta, sel = w.ObjectMeta, w.Spec.Selector
	case *appsv1.StatefulSet:
		meta, sel = w.ObjectMeta, w.Spec.Selector
	case *appsv1.DaemonSet:
		meta, sel = w.ObjectMeta, w.Spec.Selector
	case *appsv1.ReplicaSet:
		meta, sel = w.ObjectMeta, w.Spec.Selector
	case *batchv1.Job:
		meta, sel = w.ObjectMeta, w.Spec.Selector
	case *corev1.ReplicationController:
		return w.Namespace, labels.SelectorFromSet(w.Spec.Selector), nil
	default:
		return "", nil, exit.Fixf(exit.Usage, exit.Fix{Setting: exit.Target}, "resolve target: a %s has no pods of its own to trace", kind)
	}
	selector, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return "", nil, exit.Codef(exit.Usage, "resolve target %s: its selector: %w", meta.Name, err)
	}
	if selector.Empty() {
		return "", nil, exit.Codef(exit.Usage, "resolve target %s: its selector is empty and would match every pod of the namespace", meta.Name)
	}
	return meta.Namespace, selector, nil
}

// Named is the one pod the user named as pod/NAME, in namespace: a target
// of one, not yet read from the API (its tracer's start reads it).
func Named(namespace, name string) Targets {
	return Targets{What: "pod/" + name, Running: []corev1.Pod{{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}}}}
}
