package kube

import (
	"context"
	"fmt"
	"strings"
	"sync"

	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/trace-debug/kubectl-trace-debug/debug/exit"
)

// Access is one permission a command needs.
type Access struct{ Verb, Resource, Subresource string }

// String names the permission as the error messages do: "patch pods/ephemeralcontainers".
func (a Access) String() string {
	if a.Subresource != "" {
		return a.Verb + " pods/" + a.Subresource
	}
	return a.Verb + " " + a.Resource
}

// TraceAccess is every permission `kubectl trace-debug TARGET` uses.
var TraceAccess = []Access{
	{"get", "pods", ""},
	{"list", "pods", ""},
	{"watch", "pods", ""},
	{"patch", "pods", "ephemeralcontainers"},
	{"get", "pods", "attach"},
	{"create", "pods", "attach"},
	{"get", "pods", "log"},
}

// CheckAccess asks the API server, with SelfSubjectAccessReviews, whether the
// user has every permission in needs in namespace, and names the missing ones
// with a Role that would grant them.
func (c Clients) CheckAccess(ctx context.Context, needs []Access) error {
	missing, err := c.MissingAccess(ctx, needs)
	if err != nil || len(missing) == 0 {
		return err
	}
	names := make([]string, len(missing))
	for i, a := range missing {
		names[i] = a.String()
	}
	return exit.Codef(exit.Forbidden, "check permissions: you may not %s in namespace %s; nothing was changed. Ask for a binding to the ClusterRole in deploy/rbac.yaml, or a Role like:\n%s",
		strings.Join(names, ", "), c.Namespace, RoleFor(c.Namespace, missing))
}

// MissingAccess returns the permissions in needs the user lacks, in the
// order of needs. The reviews are sent at once: they sit on the path to
// every trace's first event, and each is a round trip to the API server.
func (c Clients) MissingAccess(ctx context.Context, needs []Access) ([]Access, error) {
	allowed := make([]bool, len(needs))
	errs := make([]error, len(needs))
	var wg sync.WaitGroup
	for i, a := range needs {
		wg.Go(func() {
			r, err := c.Client.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
				Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
					Namespace: c.Namespace, Verb: a.Verb, Resource: a.Resource, Subresource: a.Subresource,
				}},
			}, metav1.CreateOptions{})
			errs[i] = err
			allowed[i] = err == nil && r.Status.Allowed
		})
	}
	wg.Wait()
	var missing []Access
	for i, a := range needs {
		if errs[i] != nil {
			return nil, APIError(errs[i], "check permissions", "")
		}
		if !allowed[i] {
			missing = append(missing, a)
		}
	}
	return missing, nil
}

// RoleFor renders a Role granting the given permissions in namespace.
func RoleFor(namespace string, grants []Access) string {
	var b strings.Builder
	fmt.Fprintf(&b, "  apiVersion: rbac.authorization.k8s.io/v1\n  kind: Role\n  metadata: {name: trace-debug, namespace: %s}\n  rules:\n", namespace)
	for _, a := range grants {
		res := a.Resource
		if a.Subresource != "" {
			res += "/" + a.Subresource
		}
		fmt.Fprintf(&b, "  - {apiGroups: [\"\"], resources: [%q], verbs: [%q]}\n", res, a.Verb)
	}
	return strings.TrimRight(b.String(), "\n")
}

// podSecurityLabel is the Pod Security admission level a namespace enforces.
const podSecurityLabel = "pod-security.kubernetes.io/enforce"

// Preflight makes the checks that refuse a trace before anything is
// injected: RBAC and Pod Security, in the clients' namespace.
func (c Clients) Preflight(ctx context.Context) error {
	if err := c.CheckAccess(ctx, TraceAccess); err != nil {
		return err
	}
	return c.CheckPodSecurity(ctx)
}

// CheckPodSecurity reads the namespace's Pod Security level and refuses up
// front when it cannot admit a privileged container. A user who may not read
// namespaces is not refused here: the API server's answer is explained later.
func (c Clients) CheckPodSecurity(ctx context.Context) error {
	_, err := c.PodSecurity(ctx)
	return err
}

// podSecurity is CheckPodSecurity with what it found, for doctor: the
// namespace's level in words, or that it could not be read.
func (c Clients) PodSecurity(ctx context.Context) (detail string, err error) {
	ns, err := c.Client.CoreV1().Namespaces().Get(ctx, c.Namespace, metav1.GetOptions{})
	if apierrors.IsForbidden(err) {
		return "cannot read namespace " + c.Namespace + " to see its level; the API server will say", nil
	}
	if err != nil {
		return "", APIError(err, "get namespace "+c.Namespace, "")
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
	return exit.Codef(exit.PodSecurity, "check Pod Security: namespace %s enforces the %q level, which forbids the privileged container the tracer needs; nothing was changed. "+
		"Ask for the namespace to be labelled %s=privileged (or for an exemption for your user), or trace a copy of the pod in a namespace that allows privileged pods",
		namespace, level, podSecurityLabel)
}
