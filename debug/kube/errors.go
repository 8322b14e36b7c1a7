package kube

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/trace-debug/kubectl-trace-debug/debug/exit"
	"github.com/trace-debug/kubectl-trace-debug/debug/pods"
)

// APIError maps an API error to an exit code and a message with a fix.
func APIError(err error, what, notFoundFix string) error {
	switch {
	case apierrors.IsNotFound(err):
		if notFoundFix != "" {
			return exit.Codef(exit.TargetNotFound, "%s: %w; %s", what, err, notFoundFix)
		}
		return exit.Codef(exit.TargetNotFound, "%s: %w", what, err)
	case apierrors.IsForbidden(err):
		return exit.Codef(exit.Forbidden, "%s: %w; ask your cluster admin for the permissions listed in the README (RBAC)", what, err)
	case apierrors.IsUnauthorized(err):
		return exit.Fixf(exit.Forbidden, exit.Fix{Setting: exit.Credentials}, "%s: %w; your credentials were refused", what, err)
	}
	return exit.Codef(exit.Internal, "%s: %w", what, err)
}

// InjectError explains why the API refused the tracer container.
func InjectError(err error, pod *corev1.Pod) error {
	what := "add tracer container to pod " + pods.Ref(pod)
	status, isStatus := err.(apierrors.APIStatus)
	switch {
	case apierrors.IsNotFound(err) && isStatus && status.Status().Details != nil && status.Status().Details.Name == "":
		return exit.Codef(exit.UnsupportedPod, "%s: the cluster does not serve pods/ephemeralcontainers; ephemeral containers need Kubernetes 1.25 or later", what)
	case apierrors.IsForbidden(err) && strings.Contains(err.Error(), "PodSecurity"):
		return exit.Codef(exit.PodSecurity, "%s: %w; the tracer must be privileged, which only the `privileged` Pod Security level allows: label the namespace with pod-security.kubernetes.io/enforce=privileged (or ask for an exemption), or trace a pod in a namespace that allows it", what, err)
	case apierrors.IsForbidden(err) && strings.Contains(err.Error(), "static pods"):
		return exit.Codef(exit.UnsupportedPod, "%s: %w", what, err)
	}
	return APIError(err, what, "")
}

// resolveError explains why the builder could not resolve the target.
func resolveError(target string, err error) error {
	msg := err.Error()
	switch {
	case apierrors.IsForbidden(err) || strings.Contains(msg, " is forbidden: "):
		return exit.Codef(exit.Forbidden, "resolve target %q: %w; reading a workload to find its pods needs `get` on it and `list` on pods (deploy/rbac.yaml has them)", target, err)
	case strings.Contains(msg, "the server doesn't have a resource type"):
		return exit.Fixf(exit.Usage, exit.Fix{Setting: exit.Target}, "resolve target %q: %w", target, err)
	case strings.Contains(msg, "not found"):
		return exit.Codef(exit.TargetNotFound, "resolve target %q: %w; list what there is with `kubectl get`", target, err)
	}
	return exit.Codef(exit.Usage, "resolve target %q: %w", target, err)
}
