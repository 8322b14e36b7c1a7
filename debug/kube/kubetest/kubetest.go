// Package kubetest fakes the cluster side of tracer sessions for the
// client's unit tests: client-go's fake clientset, whose pods take the
// tracer patch, and a runner per tracer that plays the in-container runner
// over the attach and log transports (kube.Clients' seam) as a Script says:
// its lines once tracing starts, its maps and result line once stopped, a
// broken attach, an early exit, a wedged stop. Nothing here reaches a real
// API server.
package kubetest

import (
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
	"github.com/trace-debug/kubectl-trace-debug/debug/kube"
)

// Line is one line a runner writes: on stderr (the runner's own lines) or
// stdout (the program's output).
type Line struct {
	Stderr bool
	Text   string
}

// Out is a line of the program's output; Err a line on the runner's stderr.
func Out(text string) Line { return Line{Text: text} }

// Err is a line on the runner's stderr.
func Err(text string) Line { return Line{Stderr: true, Text: text} }

// Script is how a fake runner behaves.
type Script struct {
	// Lines are written once tracing starts: at the client's hello for an
	// attached session, at once for a detached one.
	Lines []Line
	// OnStop are written when the session stops: a stop line, its attached
	// client gone (stdin ended), or a broken attach.
	OnStop []Line
	// Break fails the attach with this error once Lines are written; the
	// runner then stops as when its stdin ends.
	Break error
	// ExitAfterLines ends the runner once Lines are written (with the
	// result line among them, or without one: a runner that died).
	ExitAfterLines bool
	// IgnoreStop makes a wedged runner: stop lines do nothing.
	IgnoreStop bool
	// ExitCode is the container's exit code.
	ExitCode int32
	// Pending keeps the tracer's container waiting to start (an image
	// still pulling).
	Pending bool
	// Unreachable fails the attach and log transports with this error
	// (the node's kubelet is away).
	Unreachable error
}

// Cluster is a fake cluster of pods that take tracers.
type Cluster struct {
	// Client is the fake clientset; its pods are the cluster's.
	Client *fake.Clientset
	// Script says how the runner of a new tracer in pod behaves.
	Script func(pod string) Script

	mu      sync.Mutex
	runners map[string]*Runner
}

var podsResource = corev1.SchemeGroupVersion.WithResource("pods")

func init() {
	// The fake clientset's watches do not stream the initial list (no
	// bookmark ends it): the client's reflectors list, then watch.
	_ = os.Setenv("KUBE_FEATURE_WatchListClient", "false")
}

// New returns a cluster holding objects, whose user may do everything.
func New(script func(pod string) Script, objects ...runtime.Object) *Cluster {
	c := &Cluster{Client: fake.NewClientset(objects...), Script: script, runners: map[string]*Runner{}}
	c.Client.PrependReactor("create", "selfsubjectaccessreviews", Allow())
	c.Client.PrependReactor("patch", "pods", c.inject)
	return c
}

// Clients returns clients of the cluster acting in namespace ns, with its
// runners behind the attach and log transports.
func (c *Cluster) Clients(ns string) kube.Clients {
	return kube.Clients{Client: c.Client, Namespace: ns, Attach: c.attach, LogStream: c.logStream}
}

// Runner returns the runner of the session name in pod ns/pod, or nil.
func (c *Cluster) Runner(ns, pod, name string) *Runner {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.runners[ns+"/"+pod+"/"+name]
}

// Runners are the cluster's runners.
func (c *Cluster) Runners() []*Runner {
	c.mu.Lock()
	defer c.mu.Unlock()
	var rs []*Runner
	for _, r := range c.runners {
		rs = append(rs, r)
	}
	return rs
}

// inject takes the tracer patch: the pod gets the ephemeral container,
// running, and a runner that follows its pod's script.
func (c *Cluster) inject(a k8stesting.Action) (bool, runtime.Object, error) {
	pa, ok := a.(k8stesting.PatchAction)
	if !ok || pa.GetSubresource() != "ephemeralcontainers" {
		return false, nil, nil
	}
	var patch struct {
		Spec struct {
			EphemeralContainers []corev1.EphemeralContainer `json:"ephemeralContainers"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(pa.GetPatch(), &patch); err != nil || len(patch.Spec.EphemeralContainers) != 1 {
		return true, nil, fmt.Errorf("kubetest: want a patch adding one ephemeral container: %v", err)
	}
	ec := patch.Spec.EphemeralContainers[0]
	obj, err := c.Client.Tracker().Get(podsResource, pa.GetNamespace(), pa.GetName())
	if err != nil {
		return true, nil, err
	}
	pod := obj.(*corev1.Pod).DeepCopy()
	pod.Spec.EphemeralContainers = append(pod.Spec.EphemeralContainers, ec)
	script := c.Script(pod.Name)
	state := corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}
	if script.Pending {
		state = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}
	}
	pod.Status.EphemeralContainerStatuses = append(pod.Status.EphemeralContainerStatuses, corev1.ContainerStatus{Name: ec.Name, State: state})
	if err := c.Client.Tracker().Update(podsResource, pod, pod.Namespace); err != nil {
		return true, nil, err
	}
	session, err := protocol.ParseArgs(ec.Args)
	if err != nil {
		return true, nil, err
	}
	r := c.add(pod.Namespace, pod.Name, ec.Name, script)
	r.awaitProgram, r.detached = session.ProgramSize > 0, !session.Attached
	if !session.Attached && !r.awaitProgram && !script.Pending {
		r.start(nil, nil)
	}
	return true, pod, nil
}

// add makes the runner of a new session.
func (c *Cluster) add(ns, pod, name string, s Script) *Runner {
	r := &Runner{cluster: c, ns: ns, pod: pod, name: name, script: s, changed: make(chan struct{})}
	c.mu.Lock()
	c.runners[ns+"/"+pod+"/"+name] = r
	c.mu.Unlock()
	return r
}

// AddSession puts a running detached session named name, started as its
// script says, into pod ns/pod with program, for the commands that find
// sessions (logs, stop, attach).
func (c *Cluster) AddSession(ns, pod, name, program string, s Script) (*Runner, error) {
	obj, err := c.Client.Tracker().Get(podsResource, ns, pod)
	if err != nil {
		return nil, err
	}
	p := obj.(*corev1.Pod).DeepCopy()
	sess := protocol.DefaultSession()
	sess.Program = program
	p.Spec.EphemeralContainers = append(p.Spec.EphemeralContainers, corev1.EphemeralContainer{
		EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: name, Command: []string{protocol.RunnerPath}, Args: sess.Args(), Stdin: true},
	})
	p.Status.EphemeralContainerStatuses = append(p.Status.EphemeralContainerStatuses, corev1.ContainerStatus{
		Name: name, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}},
	})
	if err := c.Client.Tracker().Update(podsResource, p, ns); err != nil {
		return nil, err
	}
	r := c.add(ns, pod, name, s)
	r.start(nil, nil)
	return r, nil
}

// Pod is a running pod ns/name with running containers.
func Pod(ns, name string, containers ...string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": "web"}}}
	p.Status.Phase = corev1.PodRunning
	for _, n := range containers {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: n})
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{
			Name: n, ContainerID: "containerd://" + name + "-" + n, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
		})
	}
	return p
}

// Namespace is a namespace object, for Pod Security's check.
func Namespace(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
}

// Allow answers SelfSubjectAccessReviews: allowed unless "verb resource" or
// "verb resource/sub" is in denied.
func Allow(denied ...string) k8stesting.ReactionFunc {
	return func(a k8stesting.Action) (bool, runtime.Object, error) {
		r := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SelfSubjectAccessReview)
		ra := r.Spec.ResourceAttributes
		name := ra.Verb + " " + ra.Resource
		if ra.Subresource != "" {
			name += "/" + ra.Subresource
		}
		r.Status.Allowed = true
		for _, d := range denied {
			if d == name {
				r.Status.Allowed = false
			}
		}
		return true, r, nil
	}
}

// exitState is a terminated container state with code.
func exitState(code int32) corev1.ContainerState {
	now := metav1.NewTime(time.Now())
	reason := "Completed"
	if code != 0 {
		reason = "Error"
	}
	return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Reason: reason, StartedAt: now, FinishedAt: now}}
}
