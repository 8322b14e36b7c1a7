package debug

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
)

// preflight makes the checks that refuse a trace before anything is
// injected: RBAC and Pod Security, in o's namespace.
func (o *TraceOptions) preflight(ctx context.Context) error {
	if err := o.checkAccess(ctx, traceAccess); err != nil {
		return err
	}
	return o.checkPodSecurity(ctx)
}

// user is the name the API server knows the caller by (asked once for a
// group).
func (o *TraceOptions) user(ctx context.Context) string {
	if o.checked != nil {
		return o.checked.user
	}
	return o.whoAmI(ctx)
}

// progress prints a line about what the command is doing to stderr.
func (o *TraceOptions) progress(format string, a ...any) { progressf(o.ErrOut, format, a...) }

// start resolves the target, injects the tracer and waits until it runs.
func (o *TraceOptions) start(ctx context.Context) (*tracer, error) {
	// Refusals come before anything is injected, so nothing is left behind
	// (a group checks each namespace once, before any pod).
	if o.checked == nil {
		if err := o.preflight(ctx); err != nil {
			return nil, err
		}
	}
	pods := o.Client.CoreV1().Pods(o.Namespace)
	pod, err := pods.Get(ctx, o.PodName, metav1.GetOptions{})
	if err != nil {
		return nil, apiError(err, fmt.Sprintf("get pod %s/%s", o.Namespace, o.PodName),
			fmt.Sprintf("list the pods with `kubectl get pods -n %s`", o.Namespace))
	}
	container, err := ChooseContainer(pod, o.Container)
	if err != nil {
		return nil, err
	}
	containerID, err := CheckPod(pod, container)
	if err != nil {
		return nil, err
	}
	if warning := sessionsWarning(pod); warning != "" {
		o.progress("%s", warning)
	}
	name := o.sessionName
	if name == "" {
		name = SessionName(pod)
	}
	s := o.tracer(name)
	session := o.session(containerID, SharesPIDNamespace(pod))
	session.NotAfter = time.Now().Add(o.Deadline).Truncate(time.Second) // over by then, however late it starts
	ec := EphemeralContainer(TracerSpec{
		Name:    s.name,
		Target:  container,
		Image:   o.Image,
		Session: session,
		User:    o.user(ctx),
	})
	patch, err := EphemeralContainerPatch(ec)
	if err != nil {
		return nil, err
	}
	if o.DryRun {
		fmt.Fprintf(o.Out, "%s\n", patch)
		o.progress("dry run: this patch of pods/ephemeralcontainers would add tracer %s to pod %s; nothing was sent", s.name, podRef(pod))
		return nil, nil
	}
	o.progress("starting tracer %s in pod %s, container %s (image %s)", s.name, podRef(pod), container, o.Image)
	if _, err := pods.Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "ephemeralcontainers"); err != nil {
		if ctx.Err() != nil {
			s.injected = true // sent, perhaps applied: say so
			return s, err
		}
		return nil, injectError(err, pod)
	}
	s.injected = true
	s.state, err = s.watchTracer(ctx, pod.Name, s.name, untilStarted(s.name, o.StartTimeout, o.ErrOut))
	if err != nil {
		return s, err
	}
	return s, nil
}

// manySessions is the count of ephemeral containers from which a pod gets
// a warning before one more is added.
const manySessions = 20

// sessionsWarning warns, from manySessions on, that every session stays in
// the pod forever, with what the pod object weighs.
func sessionsWarning(pod *corev1.Pod) string {
	n := len(pod.Spec.EphemeralContainers)
	if n < manySessions {
		return ""
	}
	size := 0
	if b, err := json.Marshal(pod); err == nil {
		size = len(b)
	}
	return fmt.Sprintf("pod %s already holds %d ephemeral containers (earlier sessions; they can never be removed): the pod object is %d KiB of etcd's 1.5 MiB limit, "+
		"each session adds about 2 KiB, and the kubelet's work on the pod grows with them; recreate the pod when you can", podRef(pod), n, size>>10)
}

// tracer is the session these options start, named name.
func (o *TraceOptions) tracer(name string) *tracer {
	t := &tracer{kube: o.kube, pod: o.PodName, name: name, out: o.Out, errOut: o.ErrOut, interrupts: o.Interrupts}
	if o.onReady != nil {
		t.onReady = o.onReady
	} else if o.ReadyFile != "" {
		t.onReady = func() {
			if err := writeReadyFile(o.ReadyFile, name); err != nil {
				t.progress("%v", err)
			}
		}
	}
	return t
}

// leftBehind says what an interrupted start left in the pod, and when it
// ends by itself.
func (o *TraceOptions) leftBehind(s *tracer) string {
	if s == nil || !s.injected {
		return "nothing was added to the pod"
	}
	if s.stopped {
		return fmt.Sprintf("tracer %s was added to pod %s/%s and has been stopped", s.name, o.Namespace, o.PodName)
	}
	if o.Detach {
		return fmt.Sprintf("tracer %s was added to pod %s/%s and runs detached until its deadline (%v)%s; end it with `kubectl trace-debug stop pod/%s %s`",
			s.name, o.Namespace, o.PodName, o.Deadline, durationNote(o), o.PodName, s.name)
	}
	return fmt.Sprintf("tracer %s was added to pod %s/%s; with no client it does not start tracing, and it exits by itself within %v of starting",
		s.name, o.Namespace, o.PodName, protocol.DefaultSession().HelloTimeout)
}

// injectError explains why the API refused the tracer container.
func injectError(err error, pod *corev1.Pod) error {
	what := "add tracer container to pod " + podRef(pod)
	status, isStatus := err.(apierrors.APIStatus)
	switch {
	case apierrors.IsNotFound(err) && isStatus && status.Status().Details != nil && status.Status().Details.Name == "":
		return codef(ExitUnsupportedPod, "%s: the cluster does not serve pods/ephemeralcontainers; ephemeral containers need Kubernetes 1.25 or later", what)
	case apierrors.IsForbidden(err) && strings.Contains(err.Error(), "PodSecurity"):
		return codef(ExitPodSecurity, "%s: %w; the tracer must be privileged, which only the `privileged` Pod Security level allows: label the namespace with pod-security.kubernetes.io/enforce=privileged (or ask for an exemption), or trace a pod in a namespace that allows it", what, err)
	case apierrors.IsForbidden(err) && strings.Contains(err.Error(), "static pods"):
		return codef(ExitUnsupportedPod, "%s: %w", what, err)
	}
	return apiError(err, what, "")
}

// apiError maps an API error to an exit code and a message with a fix.
func apiError(err error, what, notFoundFix string) error {
	switch {
	case apierrors.IsNotFound(err):
		if notFoundFix != "" {
			return codef(ExitTargetNotFound, "%s: %w; %s", what, err, notFoundFix)
		}
		return codef(ExitTargetNotFound, "%s: %w", what, err)
	case apierrors.IsForbidden(err):
		return codef(ExitForbidden, "%s: %w; ask your cluster admin for the permissions listed in the README (RBAC)", what, err)
	case apierrors.IsUnauthorized(err):
		return codef(ExitForbidden, "%s: %w; your credentials were refused: check --kubeconfig and --context", what, err)
	}
	return codef(ExitInternal, "%s: %w", what, err)
}
