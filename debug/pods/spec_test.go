package pods

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
)

func TestEphemeralContainer(t *testing.T) {
	session := protocol.DefaultSession()
	session.Program = "BEGIN { exit(); }"
	session.ContainerID = "abc"
	session.Attached = true
	session.Duration = 5 * time.Second
	detached := session
	detached.Attached = false

	want := func(stdinOnce bool, args []string) corev1.EphemeralContainer {
		return corev1.EphemeralContainer{
			EphemeralContainerCommon: corev1.EphemeralContainerCommon{
				Name:            "trace-debug-x",
				Image:           "img:1",
				ImagePullPolicy: corev1.PullIfNotPresent,
				Command:         []string{protocol.RunnerPath},
				Args:            args,
				Stdin:           true,
				StdinOnce:       stdinOnce,
				Env: []corev1.EnvVar{
					{Name: envUser, Value: "alice"},
					{Name: envClientVersion, Value: "v1"},
				},
				TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
				SecurityContext: &corev1.SecurityContext{
					Privileged: ptr.To(true), RunAsUser: ptr.To[int64](0), RunAsGroup: ptr.To[int64](0), RunAsNonRoot: ptr.To(false),
				},
			},
			TargetContainerName: "app",
		}
	}
	for _, c := range []struct {
		name    string
		session protocol.Session
		want    corev1.EphemeralContainer
	}{
		{"attached", session, want(true, []string{
			"--program=BEGIN { exit(); }", "--deadline=1h0m0s", "--hello-timeout=1m0s", "--idle-timeout=15s",
			"--container-id=abc", "--attached", "--duration=5s"})},
		{"detached", detached, want(false, []string{
			"--program=BEGIN { exit(); }", "--deadline=1h0m0s", "--hello-timeout=1m0s", "--idle-timeout=15s",
			"--container-id=abc", "--duration=5s"})},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := EphemeralContainer(TracerSpec{Name: "trace-debug-x", Target: "app", Image: "img:1", Session: c.session, User: "alice", ClientVersion: "v1"})
			if d := cmp.Diff(c.want, got); d != "" {
				t.Fatalf("container (-want +got):\n%s", d)
			}
		})
	}
}

func TestEphemeralContainerPatch(t *testing.T) {
	ec := EphemeralContainer(TracerSpec{Name: "trace-debug-x", Target: "app", Image: "img:1", Session: protocol.DefaultSession()})
	b, err := EphemeralContainerPatch(ec)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Spec struct {
			EphemeralContainers []corev1.EphemeralContainer `json:"ephemeralContainers"`
		} `json:"spec"`
		Metadata *struct{} `json:"metadata"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.Metadata != nil {
		t.Fatalf("patch carries metadata (a resourceVersion would conflict): %s", b)
	}
	if d := cmp.Diff([]corev1.EphemeralContainer{ec}, got.Spec.EphemeralContainers); d != "" {
		t.Fatalf("patch (-want +got):\n%s", d)
	}
}

func TestSessionName(t *testing.T) {
	suffixes := []string{"aaaaa", "bbbbb", "ccccc"}
	old := RandomSuffix
	t.Cleanup(func() { RandomSuffix = old })
	RandomSuffix = func() string { s := suffixes[0]; suffixes = suffixes[1:]; return s }
	p := pod("app")
	p.Spec.EphemeralContainers = []corev1.EphemeralContainer{
		{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "trace-debug-aaaaa"}},
		{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "trace-debug-bbbbb"}},
	}
	if got := SessionName(p); got != "trace-debug-ccccc" {
		t.Fatalf("SessionName = %q, want the first unused name trace-debug-ccccc", got)
	}
}
