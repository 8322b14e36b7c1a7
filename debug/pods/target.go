package pods

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/trace-debug/kubectl-trace-debug/debug/exit"
)

// Annotations the target checks read.
const (
	defaultContainerAnnotation = "kubectl.kubernetes.io/default-container"
	mirrorPodAnnotation        = "kubernetes.io/config.mirror"
)

// IsPodTarget reports whether TARGET names a pod (NAME, pod/NAME) rather
// than a workload (TYPE/NAME).
func IsPodTarget(target string) bool {
	kind, _, found := strings.Cut(target, "/")
	return !found || isPodKind(kind)
}

// isPodKind reports whether a TYPE of TARGET names pods.
func isPodKind(kind string) bool {
	switch strings.ToLower(kind) {
	case "pod", "pods", "po":
		return true
	}
	return false
}

// ParseTarget splits TARGET ("NAME", "pod/NAME", "pods/NAME", "po/NAME")
// into the pod's name.
func ParseTarget(target string) (string, error) {
	kind, name, found := strings.Cut(target, "/")
	if !found {
		kind, name = "pod", target
	}
	if !isPodKind(kind) {
		return "", exit.Codef(exit.Usage, "parse target %q: only pods can be traced; give pod/NAME or NAME (find the pod with `kubectl get pods`)", target)
	}
	if name == "" || strings.Contains(name, "/") {
		return "", exit.Codef(exit.Usage, "parse target %q: want pod/NAME or NAME", target)
	}
	return name, nil
}

// ChooseContainer picks the container to trace: the requested one, else the
// pod's kubectl.kubernetes.io/default-container, else its only container.
func ChooseContainer(pod *corev1.Pod, requested string) (string, error) {
	names := make([]string, 0, len(pod.Spec.Containers))
	for _, c := range pod.Spec.Containers {
		names = append(names, c.Name)
	}
	has := func(n string) bool {
		for _, c := range names {
			if c == n {
				return true
			}
		}
		return false
	}
	switch {
	case requested != "":
		if has(requested) {
			return requested, nil
		}
		return "", exit.Fixf(exit.TargetNotFound, exit.Fix{Setting: exit.Container}, "choose container: pod %s has no container %q; its containers are: %s",
			Ref(pod), requested, strings.Join(names, ", "))
	case has(pod.Annotations[defaultContainerAnnotation]):
		return pod.Annotations[defaultContainerAnnotation], nil
	case len(names) == 1:
		return names[0], nil
	}
	return "", exit.Fixf(exit.Usage, exit.Fix{Setting: exit.Container}, "choose container: pod %s has %d containers (%s)",
		Ref(pod), len(names), strings.Join(names, ", "))
}

// CheckPod refuses pods that cannot be traced: not running, Windows, static
// (mirror) pods, and a target container that is not running. It returns the
// target container's runtime ID (without its "runtime://" prefix).
func CheckPod(pod *corev1.Pod, container string) (string, error) {
	if _, ok := pod.Annotations[mirrorPodAnnotation]; ok {
		return "", exit.Codef(exit.UnsupportedPod, "check pod %s: it is a static (mirror) pod, and static pods do not support ephemeral containers; trace it from the node instead", Ref(pod))
	}
	if pod.Spec.OS != nil && pod.Spec.OS.Name == corev1.Windows {
		return "", exit.Codef(exit.UnsupportedPod, "check pod %s: it is a Windows pod; Windows containers cannot be privileged and eBPF tracing is Linux-only", Ref(pod))
	}
	if pod.DeletionTimestamp != nil {
		return "", exit.Codef(exit.TargetNotFound, "check pod %s: it is being deleted", Ref(pod))
	}
	if pod.Status.Phase != corev1.PodRunning {
		return "", exit.Codef(exit.TargetNotFound, "check pod %s: it is %s, not Running; trace a running pod (see `kubectl describe pod %s`)",
			Ref(pod), pod.Status.Phase, pod.Name)
	}
	for _, st := range pod.Status.ContainerStatuses {
		if st.Name != container {
			continue
		}
		if st.State.Running == nil {
			return "", exit.Codef(exit.TargetNotFound, "check pod %s: container %q is not running (%s); wait until it runs", Ref(pod), container, StateReason(st.State))
		}
		_, id, _ := strings.Cut(st.ContainerID, "://")
		return id, nil
	}
	return "", exit.Codef(exit.TargetNotFound, "check pod %s: container %q has no status yet; wait until it runs", Ref(pod), container)
}

// SharesPIDNamespace reports whether the pod's containers share one PID
// namespace, in which case targetContainerName has no effect.
func SharesPIDNamespace(pod *corev1.Pod) bool {
	return pod.Spec.HostPID || (pod.Spec.ShareProcessNamespace != nil && *pod.Spec.ShareProcessNamespace)
}

// Ref names a pod as namespace/name.
func Ref(pod *corev1.Pod) string { return pod.Namespace + "/" + pod.Name }

// StateReason describes a container state in a few words.
func StateReason(s corev1.ContainerState) string {
	switch {
	case s.Waiting != nil:
		return "waiting: " + s.Waiting.Reason
	case s.Terminated != nil:
		return fmt.Sprintf("terminated: %s, exit code %d", s.Terminated.Reason, s.Terminated.ExitCode)
	case s.Running != nil:
		return "running"
	}
	return "unknown state"
}

// StateName names a container state as `list` shows it.
func StateName(st corev1.ContainerState) string {
	switch {
	case st.Running != nil:
		return "Running"
	case st.Terminated != nil:
		return st.Terminated.Reason
	case st.Waiting != nil:
		return st.Waiting.Reason
	}
	return "Pending"
}

// ContainerState finds the named ephemeral container's state in pod's status.
func ContainerState(pod *corev1.Pod, name string) (corev1.ContainerState, bool) {
	for _, st := range pod.Status.EphemeralContainerStatuses {
		if st.Name == name {
			return st.State, true
		}
	}
	return corev1.ContainerState{}, false
}
