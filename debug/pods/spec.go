package pods

import (
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/utils/ptr"

	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
)

// namePrefix starts the name of every tracer container.
const namePrefix = "trace-debug-"

// RandomSuffix makes session names unique; tests replace it.
var RandomSuffix = func() string { return utilrand.String(5) }

// SessionName returns a container name not yet used in any of pods.
// Ephemeral containers can never be removed, so every session needs a new
// name; a session over several pods has one name in all.
func SessionName(pods ...*corev1.Pod) string {
	used := map[string]bool{}
	for _, pod := range pods {
		for _, c := range pod.Spec.Containers {
			used[c.Name] = true
		}
		for _, c := range pod.Spec.InitContainers {
			used[c.Name] = true
		}
		for _, c := range pod.Spec.EphemeralContainers {
			used[c.Name] = true
		}
	}
	for {
		if name := namePrefix + RandomSuffix(); !used[name] {
			return name
		}
	}
}

// TracerSpec is what the tracer container is made of.
type TracerSpec struct {
	// Name is the new ephemeral container's name (see SessionName).
	Name string
	// Target is the container whose processes are traced.
	Target string
	// Image is the runner image.
	Image string
	// Session is passed to the runner as its arguments.
	Session protocol.Session
	// User is who started the session, as the API server knows them.
	User string
	// ClientVersion is the version of the client that started it.
	ClientVersion string
	// Asserts are the session's assertions on its final maps, kept for the
	// client that stops a detached session (the runner never reads them).
	Asserts []string
	// Maps are the maps of a program sent on stdin and their
	// aggregations, kept for the same client (see SessionInfo.Maps).
	Maps map[string]string
}

// EphemeralContainer builds the tracer container: the runner with the
// session as arguments, stdin for the client's control lines (closed when an
// attached session's client leaves; kept open for a detached one, so a stop
// can reach it), privileged and root so it can load eBPF and mount tracefs
// whatever the pod's own security context says.
func EphemeralContainer(s TracerSpec) corev1.EphemeralContainer {
	return corev1.EphemeralContainer{
		EphemeralContainerCommon: corev1.EphemeralContainerCommon{
			Name:                     s.Name,
			Image:                    s.Image,
			ImagePullPolicy:          corev1.PullIfNotPresent,
			Command:                  []string{protocol.RunnerPath},
			Args:                     s.Session.Args(),
			Stdin:                    true,
			StdinOnce:                s.Session.Attached,
			Env:                      env(s),
			TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
			SecurityContext:          privileged(),
		},
		TargetContainerName: s.Target,
	}
}

// env is the session's metadata the client keeps in the tracer container.
func env(s TracerSpec) []corev1.EnvVar {
	vars := []corev1.EnvVar{
		{Name: envUser, Value: s.User},
		{Name: envClientVersion, Value: s.ClientVersion},
	}
	if len(s.Asserts) > 0 {
		b, _ := json.Marshal(s.Asserts) // a list of strings always marshals
		vars = append(vars, corev1.EnvVar{Name: envAsserts, Value: string(b)})
	}
	if len(s.Maps) > 0 {
		b, _ := json.Marshal(s.Maps) // strings always marshal
		vars = append(vars, corev1.EnvVar{Name: envMaps, Value: string(b)})
	}
	return vars
}

// privileged lets the tracer load eBPF programs and mount tracefs, as root
// even when the pod asks for non-root users.
func privileged() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		Privileged:   ptr.To(true),
		RunAsUser:    ptr.To[int64](0),
		RunAsGroup:   ptr.To[int64](0),
		RunAsNonRoot: ptr.To(false),
	}
}

// EphemeralContainerPatch is the strategic-merge patch of the
// pods/ephemeralcontainers subresource that adds ec. It carries only the new
// list entry and no resourceVersion, so it cannot conflict with the kubelet's
// status writes.
func EphemeralContainerPatch(ec corev1.EphemeralContainer) ([]byte, error) {
	patch := map[string]any{"spec": map[string]any{"ephemeralContainers": []corev1.EphemeralContainer{ec}}}
	b, err := json.Marshal(patch)
	if err != nil {
		return nil, fmt.Errorf("encode patch: %w", err)
	}
	return b, nil
}
