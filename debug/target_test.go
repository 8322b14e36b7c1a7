package debug

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
)

func TestParseTarget(t *testing.T) {
	for _, c := range []struct {
		in, name string
		code     int
	}{
		{"web", "web", 0},
		{"pod/web", "web", 0},
		{"pods/web", "web", 0},
		{"po/web", "web", 0},
		{"Pod/web", "web", 0},
		{"deploy/web", "", ExitUsage},
		{"pod/", "", ExitUsage},
		{"pod/a/b", "", ExitUsage},
	} {
		name, err := ParseTarget(c.in)
		if name != c.name || ExitCode(err) != c.code {
			t.Errorf("ParseTarget(%q) = %q, %v (code %d); want %q, code %d", c.in, name, err, ExitCode(err), c.name, c.code)
		}
	}
}

func pod(containers ...string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns"}}
	for _, c := range containers {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c})
	}
	return p
}

func TestChooseContainer(t *testing.T) {
	annotated := pod("app", "sidecar")
	annotated.Annotations = map[string]string{defaultContainerAnnotation: "sidecar"}
	staleAnnotation := pod("app", "sidecar")
	staleAnnotation.Annotations = map[string]string{defaultContainerAnnotation: "gone"}
	for _, c := range []struct {
		name      string
		pod       *corev1.Pod
		requested string
		want      string
		code      int
		msg       string
	}{
		{"only container", pod("app"), "", "app", 0, ""},
		{"requested", pod("app", "sidecar"), "sidecar", "sidecar", 0, ""},
		{"requested wins over annotation", annotated, "app", "app", 0, ""},
		{"annotation", annotated, "", "sidecar", 0, ""},
		{"unknown requested", pod("app"), "nope", "", ExitTargetNotFound, `has no container "nope"; its containers are: app`},
		{"ambiguous", pod("app", "sidecar"), "", "", ExitUsage, "has 2 containers (app, sidecar); choose one with -c"},
		{"stale annotation is ambiguous", staleAnnotation, "", "", ExitUsage, "choose one with -c"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := ChooseContainer(c.pod, c.requested)
			if got != c.want || ExitCode(err) != c.code {
				t.Fatalf("got %q, %v (code %d); want %q, code %d", got, err, ExitCode(err), c.want, c.code)
			}
			if err != nil && !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("error %q lacks %q", err, c.msg)
			}
		})
	}
}

func TestCheckPod(t *testing.T) {
	running := func(mutate func(*corev1.Pod)) *corev1.Pod {
		p := pod("app")
		p.Status.Phase = corev1.PodRunning
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{
			Name: "app", ContainerID: "containerd://abc123",
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
		}}
		if mutate != nil {
			mutate(p)
		}
		return p
	}
	for _, c := range []struct {
		name string
		pod  *corev1.Pod
		id   string
		code int
		msg  string
	}{
		{"running", running(nil), "abc123", 0, ""},
		{"pending", running(func(p *corev1.Pod) { p.Status.Phase = corev1.PodPending }), "", ExitTargetNotFound, "is Pending, not Running"},
		{"deleting", running(func(p *corev1.Pod) { p.DeletionTimestamp = &metav1.Time{} }), "", ExitTargetNotFound, "being deleted"},
		{"mirror", running(func(p *corev1.Pod) { p.Annotations = map[string]string{mirrorPodAnnotation: "x"} }), "", ExitUnsupportedPod, "static (mirror) pod"},
		{"windows", running(func(p *corev1.Pod) { p.Spec.OS = &corev1.PodOS{Name: corev1.Windows} }), "", ExitUnsupportedPod, "Windows"},
		{"container waiting", running(func(p *corev1.Pod) {
			p.Status.ContainerStatuses[0].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}
		}), "", ExitTargetNotFound, "not running (waiting: CrashLoopBackOff)"},
		{"no status", running(func(p *corev1.Pod) { p.Status.ContainerStatuses = nil }), "", ExitTargetNotFound, "no status yet"},
	} {
		t.Run(c.name, func(t *testing.T) {
			id, err := CheckPod(c.pod, "app")
			if id != c.id || ExitCode(err) != c.code {
				t.Fatalf("got %q, %v (code %d); want %q, code %d", id, err, ExitCode(err), c.id, c.code)
			}
			if err != nil && !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("error %q lacks %q", err, c.msg)
			}
		})
	}
}

func TestSharesPIDNamespace(t *testing.T) {
	for _, c := range []struct {
		name string
		spec corev1.PodSpec
		want bool
	}{
		{"per container", corev1.PodSpec{}, false},
		{"shareProcessNamespace", corev1.PodSpec{ShareProcessNamespace: ptr.To(true)}, true},
		{"shareProcessNamespace false", corev1.PodSpec{ShareProcessNamespace: ptr.To(false)}, false},
		{"hostPID", corev1.PodSpec{HostPID: true}, true},
	} {
		if got := SharesPIDNamespace(&corev1.Pod{Spec: c.spec}); got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}

// Releases refer to their runner images by digest, other builds by tag.
func TestImageRef(t *testing.T) {
	defer func(d, n string) { imageDigest, nativeImageDigest = d, n }(imageDigest, nativeImageDigest)
	imageDigest, nativeImageDigest = "", ""
	if got, want := NativeImage(), imageRepository+":"+version+"-native"; got != want {
		t.Errorf("NativeImage() = %q, want %q", got, want)
	}
	imageDigest, nativeImageDigest = "sha256:aa", "sha256:bb"
	if got, want := DefaultImage(), imageRepository+"@sha256:aa"; got != want {
		t.Errorf("DefaultImage() = %q, want %q", got, want)
	}
	if got, want := NativeImage(), imageRepository+"@sha256:bb"; got != want {
		t.Errorf("NativeImage() = %q, want %q", got, want)
	}
}

// A pod with many earlier sessions gets a warning with the count and size.
func TestSessionsWarning(t *testing.T) {
	p := &corev1.Pod{}
	p.Name, p.Namespace = "web", "ns"
	if w := sessionsWarning(p); w != "" {
		t.Fatalf("warning for a pod without sessions: %q", w)
	}
	for i := 0; i < manySessions; i++ {
		p.Spec.EphemeralContainers = append(p.Spec.EphemeralContainers, corev1.EphemeralContainer{})
	}
	if w := sessionsWarning(p); !strings.Contains(w, "20 ephemeral containers") || !strings.Contains(w, "KiB") {
		t.Fatalf("warning = %q", w)
	}
}

// Programs the runner could not take are refused before anything is sent;
// a large one travels on stdin, with only its head and hash in the pod.
func TestProgramLimits(t *testing.T) {
	for name, p := range map[string]string{
		"too large": strings.Repeat("x", protocol.MaxProgram+1),
		"NUL byte":  "BEGIN { }\x00",
		"not UTF-8": "BEGIN { printf(\"\xff\"); }",
	} {
		if err := validProgram(p); ExitCode(err) != ExitUsage {
			t.Errorf("%s: %v, want exit %d", name, err, ExitUsage)
		}
	}
	o := &TraceOptions{Program: "// " + strings.Repeat("c", 300<<10) + "\nBEGIN { exit(); }\n"}
	if err := validProgram(o.Program); err != nil || !o.programOnStdin() {
		t.Fatalf("a 300 KiB program: %v, on stdin %v", err, o.programOnStdin())
	}
	s := o.session("", false)
	if s.Program != "" || s.ProgramSize != len(o.Program) || len(strings.Join(s.Args(), " ")) > 1<<10 {
		t.Fatalf("the pod would carry the program: %d bytes of args", len(strings.Join(s.Args(), " ")))
	}
}
