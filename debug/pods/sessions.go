package pods

import (
	"encoding/json"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
)

// Env names of the session metadata kept in the tracer container itself
// (ephemeral containers take no labels; their spec is kept forever).
const (
	envUser          = "TRACE_DEBUG_USER"
	envClientVersion = "TRACE_DEBUG_CLIENT_VERSION"
	envAsserts       = "TRACE_DEBUG_ASSERTS"
	envMaps          = "TRACE_DEBUG_MAPS"
)

// SessionInfo describes one tracer session, read from its pod.
type SessionInfo struct {
	Namespace     string          `json:"namespace"`
	Pod           string          `json:"pod"`
	Name          string          `json:"session"`
	Target        string          `json:"container"`
	Image         string          `json:"image"`
	Program       string          `json:"program"`
	State         string          `json:"state"`
	ExitCode      *int32          `json:"exitCode,omitempty"`
	Started       time.Time       `json:"started,omitzero"`
	Detached      bool            `json:"detached"`
	Syscalls      bool            `json:"syscalls,omitempty"`
	JSON          bool            `json:"json,omitempty"`
	Funcs         []string        `json:"funcs,omitempty"`
	CPUHz         int             `json:"cpuHz,omitempty"`
	Duration      metav1.Duration `json:"duration,omitzero"`
	Deadline      metav1.Duration `json:"deadline"`
	User          string          `json:"user,omitempty"`
	ClientVersion string          `json:"clientVersion,omitempty"`
	Asserts       []string        `json:"asserts,omitempty"`
	// Maps are, for a program sent on stdin (whose text is not in the
	// pod), the maps it declares and the aggregation of each ("" when it
	// has none): what merging and checking its final maps need.
	Maps map[string]string `json:"maps,omitempty"`
	// ProgramOnStdin says the program was too large for the container's
	// args: Program then describes it (its head, size and hash).
	ProgramOnStdin bool `json:"programOnStdin,omitempty"`
	// Session is the session as its runner reads it from the container's
	// args: every question about what it runs is answered from it.
	Session protocol.Session `json:"-"`
}

// Engine is what the session runs.
func (s SessionInfo) Engine() protocol.Engine { return s.Session.Engine() }

// Native reports whether the session runs a native engine (no bpftrace).
func (s SessionInfo) Native() bool { return s.Session.Native() }

// Sessions lists the tracer sessions of pod: its ephemeral containers that
// run the runner, in the order they were added.
func Sessions(pod *corev1.Pod) []SessionInfo {
	status := map[string]corev1.ContainerState{}
	for _, st := range pod.Status.EphemeralContainerStatuses {
		status[st.Name] = st.State
	}
	var out []SessionInfo
	for _, ec := range pod.Spec.EphemeralContainers {
		if len(ec.Command) == 0 || ec.Command[0] != protocol.RunnerPath {
			continue
		}
		s := SessionInfo{Namespace: pod.Namespace, Pod: pod.Name, Name: ec.Name, Target: ec.TargetContainerName, Image: ec.Image}
		if sess, err := protocol.ParseArgs(ec.Args); err == nil {
			s.Session = sess
			s.Program, s.Detached, s.Syscalls, s.Funcs, s.JSON, s.CPUHz = sess.Program, !sess.Attached, sess.Syscalls, sess.Funcs, sess.JSON, sess.CPUHz
			if sess.ProgramSize > 0 {
				s.ProgramOnStdin = true
				s.Program = fmt.Sprintf("%s ... (%d bytes sent on stdin, sha256 %s)", sess.ProgramHead, sess.ProgramSize, sess.ProgramSHA256)
			}
			s.Duration, s.Deadline = metav1.Duration{Duration: sess.Duration}, metav1.Duration{Duration: sess.Deadline}
		}
		for _, e := range ec.Env {
			switch e.Name {
			case envUser:
				s.User = e.Value
			case envClientVersion:
				s.ClientVersion = e.Value
			case envAsserts:
				_ = json.Unmarshal([]byte(e.Value), &s.Asserts) // the client wrote it; unreadable means none
			case envMaps:
				_ = json.Unmarshal([]byte(e.Value), &s.Maps)
			}
		}
		st := status[ec.Name]
		s.State = StateName(st)
		switch {
		case st.Running != nil:
			s.Started = st.Running.StartedAt.Time
		case st.Terminated != nil:
			s.Started, s.ExitCode = st.Terminated.StartedAt.Time, &st.Terminated.ExitCode
		}
		out = append(out, s)
	}
	return out
}

// FindSession returns pod's session named name.
func FindSession(pod *corev1.Pod, name string) (SessionInfo, bool) {
	for _, s := range Sessions(pod) {
		if s.Name == name {
			return s, true
		}
	}
	return SessionInfo{}, false
}

// ManySessions is the count of ephemeral containers from which a pod gets
// a warning before one more is added.
const ManySessions = 20

// SessionsWarning warns, from ManySessions on, that every session stays in
// the pod forever, with what the pod object weighs.
func SessionsWarning(pod *corev1.Pod) string {
	n := len(pod.Spec.EphemeralContainers)
	if n < ManySessions {
		return ""
	}
	size := 0
	if b, err := json.Marshal(pod); err == nil {
		size = len(b)
	}
	return fmt.Sprintf("pod %s already holds %d ephemeral containers (earlier sessions; they can never be removed): the pod object is %d KiB of etcd's 1.5 MiB limit, "+
		"each session adds about 2 KiB, and the kubelet's work on the pod grows with them; recreate the pod when you can", Ref(pod), n, size>>10)
}
