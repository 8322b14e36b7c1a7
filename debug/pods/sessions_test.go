package pods

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
)

func TestSessions(t *testing.T) {
	started := metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	sess := protocol.DefaultSession()
	sess.Program = "\n  BEGIN { }\nEND { }"
	sess.Attached = true
	detached := sess
	detached.Attached = false
	detached.Duration = time.Minute
	p := pod("app")
	p.Spec.EphemeralContainers = []corev1.EphemeralContainer{
		EphemeralContainer(TracerSpec{Name: "trace-debug-a", Target: "app", Image: "i", Session: sess, User: "alice", ClientVersion: "v1"}),
		{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debugger-x", Command: []string{"sh"}}},
		EphemeralContainer(TracerSpec{Name: "trace-debug-b", Target: "app", Image: "i", Session: detached, User: "bob", ClientVersion: "v1"}),
		EphemeralContainer(TracerSpec{Name: "trace-debug-c", Target: "app", Image: "i", Session: sess, ClientVersion: "v1"}),
	}
	p.Status.EphemeralContainerStatuses = []corev1.ContainerStatus{
		{Name: "trace-debug-a", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Completed", ExitCode: 0, StartedAt: started}}},
		{Name: "trace-debug-b", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: started}}},
	}
	want := []SessionInfo{
		{Namespace: "ns", Pod: "web", Name: "trace-debug-a", Target: "app", Image: "i", Program: sess.Program, State: "Completed",
			ExitCode: ptr.To[int32](0), Started: started.Time, Deadline: metav1.Duration{Duration: time.Hour}, User: "alice", ClientVersion: "v1"},
		{Namespace: "ns", Pod: "web", Name: "trace-debug-b", Target: "app", Image: "i", Program: sess.Program, State: "Running",
			Started: started.Time, Detached: true, Duration: metav1.Duration{Duration: time.Minute}, Deadline: metav1.Duration{Duration: time.Hour}, User: "bob", ClientVersion: "v1"},
		{Namespace: "ns", Pod: "web", Name: "trace-debug-c", Target: "app", Image: "i", Program: sess.Program, State: "Pending",
			Deadline: metav1.Duration{Duration: time.Hour}, ClientVersion: "v1"},
	}
	for i, s := range []protocol.Session{sess, detached, sess} { // as the runner reads it
		want[i].Session = s
	}
	got := Sessions(p)
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("sessions (-want +got):\n%s", d)
	}
}
