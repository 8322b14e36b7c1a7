package debug

import (
	"context"
	"io"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
)

// fatalWaitingReasons are container waiting reasons that will not heal by
// themselves: the wait ends with an error at once instead of hanging.
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

// WaitingProblem classifies a waiting state: a non-nil error (with ExitImage)
// when the container will not start by itself.
func WaitingProblem(container string, w *corev1.ContainerStateWaiting) error {
	if w == nil || !fatalWaitingReasons[w.Reason] {
		return nil
	}
	fix := "check --image, the node's access to its registry, and `kubectl describe pod`"
	if strings.HasPrefix(w.Reason, "Create") || w.Reason == "RunContainerError" {
		fix = "see `kubectl describe pod` for the runtime's reason"
	}
	return codef(ExitImage, "start tracer container %s: %s: %s; %s", container, w.Reason, w.Message, fix)
}

// containerState finds the named ephemeral container's state in pod's status.
func containerState(pod *corev1.Pod, name string) (corev1.ContainerState, bool) {
	for _, st := range pod.Status.EphemeralContainerStatuses {
		if st.Name == name {
			return st.State, true
		}
	}
	return corev1.ContainerState{}, false
}

// waitSpec says how long watchTracer waits, what it tells the user, and
// when it is done.
type waitSpec struct {
	timeout time.Duration
	// hint ends the timeout error: what the user can do.
	hint string
	// progress receives each new waiting reason; nil prints nothing.
	progress io.Writer
	done     func(corev1.ContainerState) (bool, error)
}

// watchTracer watches the pod until w.done says the tracer container's
// state is final for the caller. It returns that state, or an error when the
// pod goes away, w.done fails, or w.timeout passes.
func (k kube) watchTracer(ctx context.Context, pod, name string, w waitSpec) (corev1.ContainerState, error) {
	client, ns, timeout := k.Client, k.Namespace, w.timeout
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	selector := fields.OneTermEqualSelector("metadata.name", pod).String()
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			opts.FieldSelector = selector
			return client.CoreV1().Pods(ns).List(ctx, opts)
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			opts.FieldSelector = selector
			return client.CoreV1().Pods(ns).Watch(ctx, opts)
		},
	}
	var state corev1.ContainerState
	lastReason := ""
	_, err := watchtools.UntilWithSync(ctx, lw, &corev1.Pod{}, nil, func(ev watch.Event) (bool, error) {
		if ev.Type == watch.Deleted {
			return false, codef(ExitTargetNotFound, "watch pod %s/%s: the pod was deleted", ns, pod)
		}
		p, ok := ev.Object.(*corev1.Pod)
		if !ok {
			return false, nil
		}
		st, found := containerState(p, name)
		if !found {
			return false, nil
		}
		state = st
		if wt := st.Waiting; wt != nil && wt.Reason != lastReason && w.progress != nil {
			lastReason = wt.Reason
			msg := wt.Reason
			if wt.Message != "" {
				msg += ": " + wt.Message
			}
			progressf(w.progress, "waiting for %s: %s", name, msg)
		}
		return w.done(st)
	})
	if err != nil && ctx.Err() != nil && parent.Err() == nil {
		why := "no status yet"
		if state.Waiting != nil {
			why = state.Waiting.Reason
		}
		return state, codef(ExitTimeout, "wait for tracer container %s: timed out after %v (%s); %s, or see `kubectl describe pod %s -n %s`", name, timeout, why, w.hint, pod, ns)
	}
	return state, err
}

// untilStarted waits, reporting progress, until the tracer runs or has
// already ended, failing fast on waiting reasons that will not heal.
func untilStarted(name string, timeout time.Duration, progress io.Writer) waitSpec {
	return waitSpec{timeout: timeout, hint: "raise --start-timeout", progress: progress, done: func(st corev1.ContainerState) (bool, error) {
		if err := WaitingProblem(name, st.Waiting); err != nil {
			return false, err
		}
		return st.Running != nil || st.Terminated != nil, nil
	}}
}

// finishTimeout bounds the wait for the tracer's final status once its
// output has ended or it was told to stop: the runner's stop grace (which
// grows with the probe count: detaching hundreds takes seconds) plus the
// kubelet's status lag.
const finishTimeout = 2 * time.Minute

// untilTerminated waits, silently, until the tracer has exited.
func untilTerminated() waitSpec {
	return waitSpec{timeout: finishTimeout, hint: "the tracer may still be printing its maps", done: func(st corev1.ContainerState) (bool, error) {
		return st.Terminated != nil, nil
	}}
}
