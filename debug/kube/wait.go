package kube

import (
	"context"
	"io"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"

	"github.com/trace-debug/kubectl-trace-debug/debug/exit"
	"github.com/trace-debug/kubectl-trace-debug/debug/pods"
	"github.com/trace-debug/kubectl-trace-debug/debug/progress"
)

// WaitSpec says how long WatchContainer waits, what it tells the user, and
// when it is done.
type WaitSpec struct {
	Timeout time.Duration
	// Hint ends the timeout error: what the user can do; Fix is the
	// setting that helps, for the command layer to word.
	Hint string
	Fix  exit.Fix
	// Progress receives each new waiting reason; nil prints nothing.
	Progress io.Writer
	Done     func(corev1.ContainerState) (bool, error)
}

// WatchContainer watches the pod until w.Done says the named ephemeral
// container's state is final for the caller. It returns that state, or an
// error when the pod goes away, w.Done fails, or w.Timeout passes.
func (c Clients) WatchContainer(ctx context.Context, pod, name string, w WaitSpec) (corev1.ContainerState, error) {
	client, ns, timeout := c.Client, c.Namespace, w.Timeout
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
			return false, exit.Codef(exit.TargetNotFound, "watch pod %s/%s: the pod was deleted", ns, pod)
		}
		p, ok := ev.Object.(*corev1.Pod)
		if !ok || p.Name != pod { // the field selector's job, checked again
			return false, nil
		}
		st, found := pods.ContainerState(p, name)
		if !found {
			return false, nil
		}
		state = st
		if wt := st.Waiting; wt != nil && wt.Reason != lastReason && w.Progress != nil {
			lastReason = wt.Reason
			msg := wt.Reason
			if wt.Message != "" {
				msg += ": " + wt.Message
			}
			progress.Printf(w.Progress, "waiting for %s: %s", name, msg)
		}
		return w.Done(st)
	})
	if err != nil && ctx.Err() != nil && parent.Err() == nil {
		why := "no status yet"
		if state.Waiting != nil {
			why = state.Waiting.Reason
		}
		return state, exit.Fixf(exit.Timeout, w.Fix, "wait for tracer container %s: timed out after %v (%s); %s, or see `kubectl describe pod %s -n %s`", name, timeout, why, w.Hint, pod, ns)
	}
	return state, err
}

// UntilStarted waits, reporting progress, until the tracer runs or has
// already ended, failing fast on waiting reasons that will not heal.
func UntilStarted(name string, timeout time.Duration, progress io.Writer) WaitSpec {
	return WaitSpec{Timeout: timeout, Hint: "the image may still be pulling", Fix: exit.Fix{Setting: exit.StartTimeout}, Progress: progress, Done: func(st corev1.ContainerState) (bool, error) {
		if err := pods.WaitingProblem(name, st.Waiting); err != nil {
			return false, err
		}
		return st.Running != nil || st.Terminated != nil, nil
	}}
}

// FinishTimeout bounds the wait for the tracer's final status once its
// output has ended or it was told to stop: the runner's stop grace (which
// grows with the probe count: detaching hundreds takes seconds) plus the
// kubelet's status lag.
const FinishTimeout = 2 * time.Minute

// UntilTerminated waits, silently, until the tracer has exited.
func UntilTerminated() WaitSpec {
	return WaitSpec{Timeout: FinishTimeout, Hint: "the tracer may still be printing its maps", Done: func(st corev1.ContainerState) (bool, error) {
		return st.Terminated != nil, nil
	}}
}

// ContainerState reads the named ephemeral container's state now.
func (c Clients) ContainerState(ctx context.Context, pod, name string) (corev1.ContainerState, error) {
	p, err := c.Client.CoreV1().Pods(c.Namespace).Get(ctx, pod, metav1.GetOptions{})
	if err != nil {
		return corev1.ContainerState{}, err
	}
	st, _ := pods.ContainerState(p, name)
	return st, nil
}
