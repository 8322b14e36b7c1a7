package debug

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
	"github.com/trace-debug/kubectl-trace-debug/internal/syncbuf"
)

// These tests run the client's API logic against client-go's fake
// clientset: what it asks the API server and what it makes of the answers.

func init() {
	// The fake clientset's watches do not stream the initial list (no
	// bookmark ends it): let the reflector list, then watch.
	_ = os.Setenv("KUBE_FEATURE_WatchListClient", "false")
}

// denying answers SelfSubjectAccessReviews: allowed unless "verb resource/sub" is in denied.
func denying(denied ...string) k8stesting.ReactionFunc {
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

func TestPreflightAccess(t *testing.T) {
	c := fake.NewClientset()
	c.PrependReactor("create", "selfsubjectaccessreviews", denying("patch pods/ephemeralcontainers", "create pods/attach"))
	k := kube{Client: c, Namespace: "shop"}
	err := k.checkAccess(context.Background(), traceAccess)
	if ExitCode(err) != ExitForbidden {
		t.Fatalf("checkAccess = %v, want exit %d", err, ExitForbidden)
	}
	for _, want := range []string{"patch pods/ephemeralcontainers, create pods/attach", "namespace shop", "kind: Role"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal lacks %q:\n%v", want, err)
		}
	}
	reviews := 0
	for _, a := range c.Actions() {
		if a.GetResource().Resource == "selfsubjectaccessreviews" {
			reviews++
		}
	}
	if reviews != len(traceAccess) {
		t.Errorf("%d reviews sent, want one per permission (%d)", reviews, len(traceAccess))
	}

	ok := fake.NewClientset()
	ok.PrependReactor("create", "selfsubjectaccessreviews", denying())
	if err := (kube{Client: ok, Namespace: "shop"}).checkAccess(context.Background(), traceAccess); err != nil {
		t.Fatalf("all allowed: %v", err)
	}
}

// tracerPod is a running pod whose tracer container "t" has state st.
func tracerPod(st corev1.ContainerState) *corev1.Pod {
	p := pod("app")
	p.Status.EphemeralContainerStatuses = []corev1.ContainerStatus{{Name: "t", State: st}}
	return p
}

func TestWatchTracer(t *testing.T) {
	waiting := corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}
	running := corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	pulling := corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImagePull", Message: "not found"}}
	for _, c := range []struct {
		name    string
		updates []corev1.ContainerState
		code    int // 0: it starts
	}{
		{"starts", []corev1.ContainerState{waiting, running}, 0},
		{"image cannot be pulled", []corev1.ContainerState{waiting, pulling}, ExitImage},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := tracerPod(c.updates[0])
			client := fake.NewClientset(p)
			w := watch.NewFake()
			client.PrependWatchReactor("pods", k8stesting.DefaultWatchReactor(w, nil))
			go func() {
				for _, st := range c.updates[1:] {
					w.Modify(tracerPod(st))
				}
			}()
			var progress bytes.Buffer
			k := kube{Client: client, Namespace: p.Namespace}
			st, err := k.watchTracer(context.Background(), p.Name, "t", untilStarted("t", 10*time.Second, &progress))
			if got := ExitCode(err); got != c.code {
				t.Fatalf("exit %d (%v), want %d", got, err, c.code)
			}
			if c.code == 0 && st.Running == nil {
				t.Fatalf("state %+v, want running", st)
			}
			if !strings.Contains(progress.String(), "ContainerCreating") {
				t.Errorf("no progress line for the wait:\n%s", progress.String())
			}
		})
	}
}

// traceablePod is a running pod with its namespace in a fake clientset
// whose user may do everything.
func traceablePod() (*corev1.Pod, *corev1.Namespace, *fake.Clientset) {
	p := pod("app")
	p.Status.Phase = corev1.PodRunning
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", ContainerID: "containerd://abc", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
	ns := &corev1.Namespace{}
	ns.Name = p.Namespace
	client := fake.NewClientset(p, ns)
	client.PrependReactor("create", "selfsubjectaccessreviews", denying())
	return p, ns, client
}

// Start refuses before injecting (a static pod), and injects exactly one
// tracer with the session in its args when it may.
func TestStartInjects(t *testing.T) {
	p, ns, client := traceablePod()
	w := watch.NewFake()
	client.PrependWatchReactor("pods", k8stesting.DefaultWatchReactor(w, nil))
	var patched []byte
	client.PrependReactor("patch", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		pa := a.(k8stesting.PatchAction)
		if pa.GetSubresource() != "ephemeralcontainers" {
			t.Errorf("patched %q, want the ephemeralcontainers subresource", pa.GetSubresource())
		}
		patched = pa.GetPatch()
		running := p.DeepCopy()
		running.Status.EphemeralContainerStatuses = []corev1.ContainerStatus{{Name: nameIn(patched), State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
		go w.Modify(running)
		return true, running, nil
	})
	var stderr bytes.Buffer
	o := NewTraceOptions(genericiooptions.IOStreams{Out: &bytes.Buffer{}, ErrOut: &stderr})
	o.Program, o.PodName = "BEGIN { exit(); }", p.Name
	o.kube = kube{Client: client, Namespace: p.Namespace}
	s, err := o.start(context.Background())
	if err != nil || s == nil || !s.injected || s.state.Running == nil {
		t.Fatalf("start = %+v, %v\n%s", s, err, stderr.String())
	}
	if !bytes.Contains(patched, []byte(`"--program=BEGIN { exit(); }"`)) || !bytes.Contains(patched, []byte(`"--container-id=abc"`)) {
		t.Fatalf("the patch does not carry the session:\n%s", patched)
	}

	static := p.DeepCopy()
	static.Annotations = map[string]string{"kubernetes.io/config.mirror": "x"}
	client = fake.NewClientset(static, ns)
	client.PrependReactor("create", "selfsubjectaccessreviews", denying())
	o.kube = kube{Client: client, Namespace: static.Namespace}
	if _, err := o.start(context.Background()); ExitCode(err) != ExitUnsupportedPod {
		t.Fatalf("static pod: %v, want exit %d", err, ExitUnsupportedPod)
	}
	for _, a := range client.Actions() {
		if a.GetVerb() == "patch" {
			t.Fatal("a refused pod was patched")
		}
	}
}

// nameIn is the tracer's name in an ephemeral-container patch.
func nameIn(patch []byte) string {
	_, rest, _ := bytes.Cut(patch, []byte(`"name":"`))
	name, _, _ := bytes.Cut(rest, []byte(`"`))
	return string(name)
}

func TestListSessions(t *testing.T) {
	p := pod("app")
	p.Spec.EphemeralContainers = []corev1.EphemeralContainer{
		EphemeralContainer(TracerSpec{Name: "trace-debug-a", Target: "app", Image: "i", Session: sessionWith("BEGIN { }")}),
	}
	other := pod("app")
	other.Name, other.Namespace = "db", "other"
	client := fake.NewClientset(p, other)
	var out bytes.Buffer
	o := &ListOptions{SessionRef: SessionRef{IOStreams: genericiooptions.IOStreams{Out: &out}, kube: kube{Client: client, Namespace: p.Namespace}}, Output: "wide"}
	if err := o.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "trace-debug-a") || !strings.Contains(out.String(), "BEGIN { }") {
		t.Fatalf("list:\n%s", out.String())
	}
}

func sessionWith(program string) protocol.Session {
	s := protocol.DefaultSession()
	s.Program = program
	return s
}

// Ctrl-C while the tracer is starting ends the command at once, exit 130,
// naming the tracer left in the pod.
func TestInterruptWhileStarting(t *testing.T) {
	p, _, client := traceablePod()
	client.PrependWatchReactor("pods", k8stesting.DefaultWatchReactor(watch.NewFake(), nil)) // never starts
	interrupts := make(chan os.Signal, 1)
	var stderr syncbuf.Buffer
	o := NewTraceOptions(genericiooptions.IOStreams{Out: &bytes.Buffer{}, ErrOut: &stderr})
	o.Program, o.PodName, o.Interrupts = "BEGIN { exit(); }", p.Name, interrupts
	o.kube = kube{Client: client, Namespace: p.Namespace}
	go func() {
		for !strings.Contains(stderr.String(), "starting tracer") {
			time.Sleep(10 * time.Millisecond)
		}
		interrupts <- os.Interrupt
	}()
	err := o.Run(context.Background())
	if ExitCode(err) != ExitInterrupted || !strings.Contains(err.Error(), "was added to pod ns/web") {
		t.Fatalf("Run = %v, want exit %d naming the tracer left", err, ExitInterrupted)
	}
}

// Doctor reports preflight's own checks, the pod's and the node's; a
// missing permission fails with the trace's own exit code.
func TestDoctor(t *testing.T) {
	p, _, client := traceablePod()
	p.Spec.NodeName = "n1"
	node := &corev1.Node{}
	node.Name = "n1"
	node.Status.NodeInfo = corev1.NodeSystemInfo{OperatingSystem: "linux", Architecture: "amd64", KernelVersion: "6.1.0"}
	node.Status.Images = []corev1.ContainerImage{{Names: []string{"runner:1"}}}
	_, _ = client.CoreV1().Pods(p.Namespace).Update(context.Background(), p, metav1.UpdateOptions{})
	_, _ = client.CoreV1().Nodes().Create(context.Background(), node, metav1.CreateOptions{})
	o := &DoctorOptions{SessionRef: SessionRef{PodName: p.Name, kube: kube{Client: client, Namespace: p.Namespace}}, Image: "runner:1"}
	results := map[string]string{}
	for _, c := range o.doctor(context.Background()) {
		results[c.Name] = c.Result
	}
	for _, name := range []string{"permissions", "pod security", "pod", "node", "image"} {
		if results[name] != "ok" {
			t.Errorf("check %s = %q, want ok (all: %v)", name, results[name], results)
		}
	}

	client.PrependReactor("create", "selfsubjectaccessreviews", denying("patch pods/ephemeralcontainers"))
	for _, c := range o.doctor(context.Background()) {
		if c.Name == "permissions" && (c.Result != "fail" || c.code != ExitForbidden || !strings.Contains(c.Detail, "pods/ephemeralcontainers")) {
			t.Errorf("permissions check without the patch verb = %+v", c)
		}
	}
}

// Stop on a session that has ended, or that does not exist, sends nothing.
func TestStopWithoutASession(t *testing.T) {
	p := tracerPod(corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed"}})
	p.Spec.EphemeralContainers = []corev1.EphemeralContainer{
		EphemeralContainer(TracerSpec{Name: "t", Target: "app", Image: "i", Session: sessionWith("BEGIN { }")}),
	}
	client := fake.NewClientset(p)
	var stderr bytes.Buffer
	o := &StopOptions{SessionRef{IOStreams: genericiooptions.IOStreams{ErrOut: &stderr}, PodName: p.Name, Session: "t", kube: kube{Client: client, Namespace: p.Namespace}}}
	if err := o.Run(context.Background()); err != nil || !strings.Contains(stderr.String(), "not running (Completed)") {
		t.Fatalf("stop of an ended session: %v\n%s", err, stderr.String())
	}
	o.Session = "nope"
	if err := o.Run(context.Background()); ExitCode(err) != ExitTargetNotFound {
		t.Fatalf("stop of an unknown session: %v", err)
	}
	for _, a := range client.Actions() {
		if a.GetSubresource() == "attach" {
			t.Fatalf("stop sent something: %v", a)
		}
	}
}
