package pods

import (
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/trace-debug/kubectl-trace-debug/debug/exit"
)

// fatalWaitingReasons are container waiting reasons that will not heal by
// themselves: a wait ends with an error at once instead of hanging.
var fatalWaitingReasons = map[string]bool{
	"ErrImagePull":               true,
	"ImagePullBackOff":           true,
	"ErrImageNeverPull":          true,
	"InvalidImageName":           true,
	"ImageInspectError":          true,
	"CreateContainerConfigError": true,
	"CreateContainerError":       true,
	"RunContainerError":          true,
	"PreStartHookError":          true,
}

// WaitingProblem classifies a waiting state: a non-nil error (with
// exit.Image) when the container will not start by itself.
func WaitingProblem(container string, w *corev1.ContainerStateWaiting) error {
	if w == nil || !fatalWaitingReasons[w.Reason] {
		return nil
	}
	if strings.HasPrefix(w.Reason, "Create") || w.Reason == "RunContainerError" {
		return exit.Codef(exit.Image, "start tracer container %s: %s: %s; see `kubectl describe pod` for the runtime's reason", container, w.Reason, w.Message)
	}
	return exit.Fixf(exit.Image, exit.Fix{Setting: exit.RunnerImage}, "start tracer container %s: %s: %s; check the node's access to the image's registry and `kubectl describe pod`", container, w.Reason, w.Message)
}
