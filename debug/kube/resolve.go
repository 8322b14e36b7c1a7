package kube

import (
	"context"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/cli-runtime/pkg/resource"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/trace-debug/kubectl-trace-debug/debug/exit"
	"github.com/trace-debug/kubectl-trace-debug/debug/pods"
)

// Resolve finds the pods of the workload target (TYPE/NAME, with kubectl's
// names and short names, through kubectl's resource builder) or of the
// label selector, in the clients' namespace or every namespace.
func (c Clients) Resolve(ctx context.Context, target, selector string, allNamespaces bool) (pods.Targets, error) {
	if selector != "" {
		if _, err := labels.Parse(selector); err != nil {
			return pods.Targets{}, exit.Codef(exit.Usage, "parse selector %q: %w", selector, err)
		}
		ns := c.Namespace
		if allNamespaces {
			ns = metav1.NamespaceAll
		}
		list, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return pods.Targets{}, APIError(err, "list the pods labelled "+selector, "")
		}
		return pods.Split("the pods labelled "+selector, list.Items), nil
	}
	if c.Getter == nil {
		return pods.Targets{}, exit.Codef(exit.Internal, "resolve target %q: no resource mapping to resolve it with", target)
	}
	infos, err := resource.NewBuilder(c.Getter).
		WithScheme(scheme.Scheme, scheme.Scheme.PrioritizedVersionsAllGroups()...).
		NamespaceParam(c.Namespace).DefaultNamespace().
		ResourceTypeOrNameArgs(false, target).SingleResourceType().
		Flatten().Do().Infos()
	if err != nil {
		return pods.Targets{}, resolveError(target, err)
	}
	what := target
	var found []corev1.Pod
	for _, info := range infos {
		if p, ok := info.Object.(*corev1.Pod); ok {
			found = append(found, *p)
			continue
		}
		kind := info.Mapping.GroupVersionKind.Kind
		ns, sel, err := pods.Selector(kind, info.Object)
		if err != nil {
			return pods.Targets{}, err
		}
		list, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
		if err != nil {
			return pods.Targets{}, APIError(err, "list the pods of "+ns+"/"+sel.String(), "")
		}
		if len(infos) == 1 {
			what = strings.ToLower(kind) + "/" + info.Name
		}
		found = append(found, list.Items...)
	}
	return pods.Split(what, found), nil
}
