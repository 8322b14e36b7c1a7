package debug

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Annotations the target checks read.
const (
	defaultContainerAnnotation = "kubectl.kubernetes.io/default-container"
	mirrorPodAnnotation        = "kubernetes.io/config.mirror"
)

// ParseTarget splits TARGET ("NAME", "pod/NAME", "pods/NAME", "po/NAME")
// into the pod's name.
func ParseTarget(target string) (string, error) {
	kind, name, found := strings.Cut(target, "/")
	if !found {
		kind, name = "pod", target
	}
	switch strings.ToLower(kind) {
	case "pod", "pods", "po":
	default:
		return "", codef(ExitUsage, "parse target %q: only pods can be traced; give pod/NAME or NAME (find the pod with `kubectl get pods`)", target)
	}
	if name == "" || strings.Contains(name, "/") {
		return "", codef(ExitUsage, "parse target %q: want pod/NAME or NAME", target)
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
		return "", codef(ExitTargetNotFound, "choose container: pod %s has no container %q; its containers are: %s (pass one with -c)",
			podRef(pod), requested, strings.Join(names, ", "))
	case has(pod.Annotations[defaultContainerAnnotation]):
		return pod.Annotations[defaultContainerAnnotation], nil
	case len(names) == 1:
		return names[0], nil
	}
	return "", codef(ExitUsage, "choose container: pod %s has %d containers (%s); choose one with -c CONTAINER",
		podRef(pod), len(names), strings.Join(names, ", "))
}

// CheckPod refuses pods that cannot be traced: not running, Windows, static
// (mirror) pods, and a target container that is not running. It returns the
// target container's runtime ID (without its "runtime://" prefix).
func CheckPod(pod *corev1.Pod, container string) (string, error) {
	if _, ok := pod.Annotations[mirrorPodAnnotation]; ok {
		return "", codef(ExitUnsupportedPod, "check pod %s: it is a static (mirror) pod, and static pods do not support ephemeral containers; trace it from the node instead", podRef(pod))
	}
	if pod.Spec.OS != nil && pod.Spec.OS.Name == corev1.Windows {
		return "", codef(ExitUnsupportedPod, "check pod %s: it is a Windows pod; Windows containers cannot be privileged and eBPF tracing is Linux-only", podRef(pod))
	}
	if pod.DeletionTimestamp != nil {
		return "", codef(ExitTargetNotFound, "check pod %s: it is being deleted", podRef(pod))
	}
	if pod.Status.Phase != corev1.PodRunning {
		return "", codef(ExitTargetNotFound, "check pod %s: it is %s, not Running; trace a running pod (see `kubectl describe pod %s`)",
			podRef(pod), pod.Status.Phase, pod.Name)
	}
	for _, st := range pod.Status.ContainerStatuses {
		if st.Name != container {
			continue
		}
		if st.State.Running == nil {
			return "", codef(ExitTargetNotFound, "check pod %s: container %q is not running (%s); wait until it runs", podRef(pod), container, stateReason(st.State))
		}
		_, id, _ := strings.Cut(st.ContainerID, "://")
		return id, nil
	}
	return "", codef(ExitTargetNotFound, "check pod %s: container %q has no status yet; wait until it runs", podRef(pod), container)
}

// SharesPIDNamespace reports whether the pod's containers share one PID
// namespace, in which case targetContainerName has no effect.
func SharesPIDNamespace(pod *corev1.Pod) bool {
	return pod.Spec.HostPID || (pod.Spec.ShareProcessNamespace != nil && *pod.Spec.ShareProcessNamespace)
}

func podRef(pod *corev1.Pod) string { return pod.Namespace + "/" + pod.Name }

// stateReason describes a container state in a few words.
func stateReason(s corev1.ContainerState) string {
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
