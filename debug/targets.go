package debug

import (
	"context"
	"fmt"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/resource"
	"k8s.io/client-go/kubernetes/scheme"
)

// DefaultMaxPods is how many pods a workload or a selector may resolve to
// before the trace is refused (--max-pods): every pod gets a privileged
// tracer.
const DefaultMaxPods = 20

// isPodTarget reports whether TARGET names a pod (NAME, pod/NAME) rather
// than a workload (TYPE/NAME).
func isPodTarget(target string) bool {
	kind, _, found := strings.Cut(target, "/")
	if !found {
		return true
	}
	switch strings.ToLower(kind) {
	case "pod", "pods", "po":
		return true
	}
	return false
}

// skippedPod is a pod that a target matched and that is not traced.
type skippedPod struct {
	Pod    string
	Reason string
}

// podTargets are the pods a workload or selector resolved to.
type podTargets struct {
	// What names the target for messages: "deployment/web", "-l app=web".
	What    string
	Running []corev1.Pod
	Skipped []skippedPod
}

// resolveWorkload finds the pods of the workload TARGET (TYPE/NAME, with
// kubectl's names and short names) or of the label selector, with kubectl's
// resource builder, in namespace (or every namespace).
func resolveWorkload(ctx context.Context, getter genericclioptions.RESTClientGetter, k kube, target, selector string, allNamespaces bool) (podTargets, error) {
	b := resource.NewBuilder(getter).
		WithScheme(scheme.Scheme, scheme.Scheme.PrioritizedVersionsAllGroups()...).
		NamespaceParam(k.Namespace).DefaultNamespace().AllNamespaces(allNamespaces)
	what := target
	if selector != "" {
		b = b.LabelSelectorParam(selector).ResourceTypes("pods")
		what = "-l " + selector
	} else {
		b = b.ResourceTypeOrNameArgs(false, target).SingleResourceType()
	}
	infos, err := b.Flatten().Do().Infos()
	if err != nil {
		return podTargets{}, resolveError(target, err)
	}
	var pods []corev1.Pod
	for _, info := range infos {
		switch obj := info.Object.(type) {
		case *corev1.Pod:
			pods = append(pods, *obj)
		default:
			kind := info.Mapping.GroupVersionKind.Kind
			found, err := workloadPods(ctx, k, kind, info.Object)
			if err != nil {
				return podTargets{}, err
			}
			if len(infos) == 1 {
				what = strings.ToLower(kind) + "/" + info.Name
			}
			pods = append(pods, found...)
		}
	}
	return splitRunning(what, pods), nil
}

// workloadPods lists the pods the workload's selector matches.
func workloadPods(ctx context.Context, k kube, kind string, obj runtime.Object) ([]corev1.Pod, error) {
	ns, selector, err := podSelector(kind, obj)
	if err != nil {
		return nil, err
	}
	list, err := k.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector.String()})
	if err != nil {
		return nil, apiError(err, "list the pods of "+ns+"/"+selector.String(), "")
	}
	return list.Items, nil
}

// podSelector is the namespace and the pod selector of a workload of the
// given kind.
func podSelector(kind string, obj runtime.Object) (string, labels.Selector, error) {
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
		return "", nil, codef(ExitUsage, "resolve target: a %s has no pods of its own to trace; give a pod, a deployment, statefulset, daemonset, replicaset or job, or -l SELECTOR", kind)
	}
	selector, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return "", nil, codef(ExitUsage, "resolve target %s: its selector: %w", meta.Name, err)
	}
	if selector.Empty() {
		return "", nil, codef(ExitUsage, "resolve target %s: its selector is empty and would match every pod of the namespace", meta.Name)
	}
	return meta.Namespace, selector, nil
}

// splitRunning keeps the pods that can be traced, sorted by namespace and
// name, and gives the others with why.
func splitRunning(what string, pods []corev1.Pod) podTargets {
	sort.Slice(pods, func(i, j int) bool {
		if pods[i].Namespace != pods[j].Namespace {
			return pods[i].Namespace < pods[j].Namespace
		}
		return pods[i].Name < pods[j].Name
	})
	t := podTargets{What: what}
	for _, p := range pods {
		switch {
		case p.DeletionTimestamp != nil:
			t.Skipped = append(t.Skipped, skippedPod{p.Name, "terminating"})
		case p.Status.Phase != corev1.PodRunning:
			t.Skipped = append(t.Skipped, skippedPod{p.Name, "not running (" + string(p.Status.Phase) + ")"})
		default:
			t.Running = append(t.Running, p)
		}
	}
	return t
}

// check refuses a target with no running pod, or with more than maxPods.
func (t podTargets) check(maxPods int) error {
	switch {
	case len(t.Running) == 0 && len(t.Skipped) == 0:
		return codef(ExitTargetNotFound, "resolve %s: it matches no pods; check the name, the selector and -n", t.What)
	case len(t.Running) == 0:
		return codef(ExitTargetNotFound, "resolve %s: none of its %d pods is running (%s); trace it once they run", t.What, len(t.Skipped), t.skippedList())
	case len(t.Running) > maxPods:
		return codef(ExitUsage, "resolve %s: it matches %d running pods, more than --max-pods %d: every pod would get a privileged tracer; narrow the selector, or raise --max-pods", t.What, len(t.Running), maxPods)
	}
	return nil
}

// skippedList names the skipped pods with why, for messages.
func (t podTargets) skippedList() string {
	parts := make([]string, len(t.Skipped))
	for i, s := range t.Skipped {
		parts[i] = s.Pod + ": " + s.Reason
	}
	return strings.Join(parts, ", ")
}

// resolveError explains why the builder could not resolve the target.
func resolveError(target string, err error) error {
	msg := err.Error()
	switch {
	case apierrors.IsForbidden(err) || strings.Contains(msg, " is forbidden: "):
		return codef(ExitForbidden, "resolve target %q: %w; reading a workload to find its pods needs `get` on it and `list` on pods (deploy/rbac.yaml has them)", target, err)
	case strings.Contains(msg, "the server doesn't have a resource type"):
		return codef(ExitUsage, "resolve target %q: %w; give pod/NAME, NAME, deploy/NAME, sts/NAME, ds/NAME, rs/NAME, job/NAME or -l SELECTOR", target, err)
	case strings.Contains(msg, "not found"):
		return codef(ExitTargetNotFound, "resolve target %q: %w; list what there is with `kubectl get`", target, err)
	}
	return codef(ExitUsage, "resolve target %q: %w", target, err)
}

// describeTargets is the progress line naming what a workload resolved to.
func describeTargets(t podTargets) string {
	names := make([]string, len(t.Running))
	for i, p := range t.Running {
		names[i] = p.Name
	}
	s := fmt.Sprintf("%s: %d running pod(s): %s", t.What, len(t.Running), strings.Join(names, ", "))
	if len(t.Skipped) > 0 {
		s += fmt.Sprintf("; skipped %d: %s", len(t.Skipped), t.skippedList())
	}
	return s
}
