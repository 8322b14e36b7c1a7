package debug

import (
	"context"
	"fmt"
	"strings"
	"sync"

	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// access is one permission a command needs.
type access struct{ verb, resource, subresource string }

// String names the permission as the error messages do: "patch pods/ephemeralcontainers".
func (a access) String() string {
	if a.subresource != "" {
		return a.verb + " pods/" + a.subresource
	}
	return a.verb + " " + a.resource
}

// traceAccess is every permission `kubectl trace-debug TARGET` uses.
var traceAccess = []access{
	{"get", "pods", ""},
	{"list", "pods", ""},
	{"watch", "pods", ""},
	{"patch", "pods", "ephemeralcontainers"},
	{"get", "pods", "attach"},
	{"create", "pods", "attach"},
	{"get", "pods", "log"},
}

// checkAccess asks the API server, with SelfSubjectAccessReviews, whether the
// user has every permission in needs in namespace, and names the missing ones
// with a Role that would grant them.
func (k kube) checkAccess(ctx context.Context, needs []access) error {
	missing, err := k.missingAccess(ctx, needs)
	if err != nil || len(missing) == 0 {
		return err
	}
	names := make([]string, len(missing))
	for i, a := range missing {
		names[i] = a.String()
	}
	return codef(ExitForbidden, "check permissions: you may not %s in namespace %s; nothing was changed. Ask for a binding to the ClusterRole in deploy/rbac.yaml, or a Role like:\n%s",
		strings.Join(names, ", "), k.Namespace, RoleFor(k.Namespace, missing))
}

// missingAccess returns the permissions in needs the user lacks, in the
// order of needs. The reviews are sent at once: they sit on the path to
// every trace's first event, and each is a round trip to the API server.
func (k kube) missingAccess(ctx context.Context, needs []access) ([]access, error) {
	allowed := make([]bool, len(needs))
	errs := make([]error, len(needs))
	var wg sync.WaitGroup
	for i, a := range needs {
		wg.Go(func() {
			r, err := k.Client.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
				Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
					Namespace: k.Namespace, Verb: a.verb, Resource: a.resource, Subresource: a.subresource,
				}},
			}, metav1.CreateOptions{})
			errs[i] = err
			allowed[i] = err == nil && r.Status.Allowed
		})
	}
	wg.Wait()
	var missing []access
	for i, a := range needs {
		if errs[i] != nil {
			return nil, apiError(errs[i], "check permissions", "")
		}
		if !allowed[i] {
			missing = append(missing, a)
		}
	}
	return missing, nil
}

// RoleFor renders a Role granting the given permissions in namespace.
func RoleFor(namespace string, grants []access) string {
	var b strings.Builder
	fmt.Fprintf(&b, "  apiVersion: rbac.authorization.k8s.io/v1\n  kind: Role\n  metadata: {name: trace-debug, namespace: %s}\n  rules:\n", namespace)
	for _, a := range grants {
		res := a.resource
		if a.subresource != "" {
			res += "/" + a.subresource
		}
		fmt.Fprintf(&b, "  - {apiGroups: [\"\"], resources: [%q], verbs: [%q]}\n", res, a.verb)
	}
	return strings.TrimRight(b.String(), "\n")
}

// podSecurityLabel is the Pod Security admission level a namespace enforces.
const podSecurityLabel = "pod-security.kubernetes.io/enforce"

// checkPodSecurity reads the namespace's Pod Security level and refuses up
// front when it cannot admit a privileged container. A user who may not read
// namespaces is not refused here: the API server's answer is explained later.
func (k kube) checkPodSecurity(ctx context.Context) error {
	_, err := k.podSecurity(ctx)
	return err
}

// podSecurity is checkPodSecurity with what it found, for doctor: the
// namespace's level in words, or that it could not be read.
func (k kube) podSecurity(ctx context.Context) (detail string, err error) {
	ns, err := k.Client.CoreV1().Namespaces().Get(ctx, k.Namespace, metav1.GetOptions{})
	if apierrors.IsForbidden(err) {
		return "cannot read namespace " + k.Namespace + " to see its level; the API server will say", nil
	}
	if err != nil {
		return "", apiError(err, "get namespace "+k.Namespace, "")
	}
	level := ns.Labels[podSecurityLabel]
	if level == "" {
		return fmt.Sprintf("namespace %s has no %s label: the cluster's default level applies (privileged unless configured otherwise)", ns.Name, podSecurityLabel), nil
	}
	return fmt.Sprintf("namespace %s enforces %q", ns.Name, level), PodSecurityProblem(ns.Name, level)
}

// PodSecurityProblem explains why a namespace enforcing level cannot run the
// privileged tracer; nil when it can ("" is the cluster's default, usually
// privileged, and is left to the API server).
func PodSecurityProblem(namespace, level string) error {
	if level == "" || level == "privileged" {
		return nil
	}
	return codef(ExitPodSecurity, "check Pod Security: namespace %s enforces the %q level, which forbids the privileged container the tracer needs; nothing was changed. "+
		"Ask for the namespace to be labelled %s=privileged (or for an exemption for your user), or trace a copy of the pod in a namespace that allows privileged pods",
		namespace, level, podSecurityLabel)
}
