//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"

	"github.com/trace-debug/kubectl-trace-debug/internal/syncbuf"
)

const demoImage = "trace-debug.local/demo:1"

var (
	kubeconfig string
	pluginBin  string
	client     kubernetes.Interface
	restConfig *rest.Config
	nextPort   atomic.Int32
)

func TestMain(m *testing.M) {
	kubeconfig = os.Getenv("TRACE_DEBUG_KUBECONFIG")
	pluginBin = os.Getenv("TRACE_DEBUG_BIN")
	if kubeconfig == "" || pluginBin == "" {
		fmt.Fprintln(os.Stderr, "e2e: set TRACE_DEBUG_KUBECONFIG and TRACE_DEBUG_BIN (scripts/test-e2e.sh does)")
		os.Exit(1)
	}
	var err error
	restConfig, err = clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err == nil {
		client, err = kubernetes.NewForConfig(restConfig)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		os.Exit(1)
	}
	nextPort.Store(18200)
	os.Exit(m.Run())
}

// newNamespace creates a namespace for one test and deletes it afterwards.
func newNamespace(t *testing.T) string {
	t.Helper()
	ns := "e2e-" + utilrand.String(6)
	_, err := client.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	t.Cleanup(func() {
		_ = client.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)})
	})
	return ns
}

// demoPod is the demo server (container "server", the default) and an
// interactive bash (container "shell"), on the host network at a port of its own.
type demoPod struct {
	ns, name string
	port     int
}

func (d demoPod) url() string { return fmt.Sprintf("http://127.0.0.1:%d/", d.port) }

// podSpec returns the demo pod's manifest; mutate adjusts it per test.
func podSpec(name string, port int) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{"kubectl.kubernetes.io/default-container": "server"}},
		Spec: corev1.PodSpec{
			HostNetwork:                   true,
			TerminationGracePeriodSeconds: ptr.To[int64](0),
			Containers: []corev1.Container{
				{Name: "server", Image: demoImage, ImagePullPolicy: corev1.PullNever,
					Command: []string{"/app/server", "-listen", fmt.Sprintf("127.0.0.1:%d", port)}},
				{Name: "shell", Image: demoImage, ImagePullPolicy: corev1.PullNever,
					Command: []string{"/bin/bash", "-i"}, Stdin: true, TTY: true},
			},
		},
	}
}

// startDemo creates a demo pod and waits until it serves.
func startDemo(t *testing.T, ns string, mutate func(*corev1.Pod)) demoPod {
	t.Helper()
	port := int(nextPort.Add(1))
	pod := podSpec("demo", port)
	if mutate != nil {
		mutate(pod)
	}
	if _, err := client.CoreV1().Pods(ns).Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create pod: %v", err)
	}
	d := demoPod{ns: ns, name: pod.Name, port: port}
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		p, err := client.CoreV1().Pods(ns).Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil || p.Status.Phase != corev1.PodRunning {
			return false, nil
		}
		resp, err := http.Get(d.url())
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return true, nil
	})
	if err != nil {
		t.Fatalf("demo pod %s/%s did not start serving: %v", ns, pod.Name, err)
	}
	return d
}

// request sends n requests to the demo server.
func (d demoPod) request(t *testing.T, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		resp, err := http.Get(d.url())
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// session is one run of the plugin.
type session struct {
	cmd            *exec.Cmd
	stdout, stderr *syncbuf.Buffer
	done           chan struct{}
	code           int
}

// startPlugin runs kubectl-trace_debug with args (plus the kubeconfig).
func startPlugin(t *testing.T, args ...string) *session {
	t.Helper()
	s := &session{stdout: &syncbuf.Buffer{}, stderr: &syncbuf.Buffer{}, done: make(chan struct{})}
	s.cmd = exec.Command(pluginBin, append([]string{"--kubeconfig", kubeconfig}, args...)...)
	s.cmd.Stdout, s.cmd.Stderr = s.stdout, s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start plugin: %v", err)
	}
	go func() {
		err := s.cmd.Wait()
		s.code = s.cmd.ProcessState.ExitCode()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			s.code = -1
		}
		close(s.done)
	}()
	t.Cleanup(func() { _ = s.cmd.Process.Kill(); <-s.done })
	return s
}

// wait waits for the plugin to exit and returns its exit code.
func (s *session) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-s.done:
		return s.code
	case <-time.After(timeout):
		t.Fatalf("plugin did not exit within %v\nstdout:\n%s\nstderr:\n%s", timeout, s.stdout, s.stderr)
	}
	return 0
}

// waitOutput waits until the plugin's stdout or stderr contains want.
func (s *session) waitOutput(t *testing.T, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if strings.Contains(s.stdout.String(), want) || strings.Contains(s.stderr.String(), want) {
			return
		}
		select {
		case <-s.done:
			t.Fatalf("plugin exited (code %d) before printing %q\nstdout:\n%s\nstderr:\n%s", s.code, want, s.stdout, s.stderr)
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("plugin did not print %q within %v\nstdout:\n%s\nstderr:\n%s", want, timeout, s.stdout, s.stderr)
}

func (s *session) terminate(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("terminate plugin: %v", err)
	}
}

func (s *session) interrupt(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatalf("interrupt plugin: %v", err)
	}
}

// runPlugin runs the plugin to completion.
func runPlugin(t *testing.T, timeout time.Duration, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	s := startPlugin(t, args...)
	code = s.wait(t, timeout)
	return s.stdout.String(), s.stderr.String(), code
}

// tracerName returns the name of the tracer container the plugin reported.
func tracerName(t *testing.T, stderr string) string {
	t.Helper()
	_, rest, ok := strings.Cut(stderr, "starting tracer ")
	if !ok {
		t.Fatalf("plugin did not report its tracer container:\n%s", stderr)
	}
	name, _, _ := strings.Cut(rest, " ")
	return name
}

// assertNoHarm checks that every tracer container in the pod has terminated
// (within timeout) and that the pod is still Running with no restarts.
func assertNoHarm(t *testing.T, d demoPod, timeout time.Duration) {
	t.Helper()
	var last *corev1.Pod
	err := wait.PollUntilContextTimeout(context.Background(), 250*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		p, err := client.CoreV1().Pods(d.ns).Get(ctx, d.name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		last = p
		for _, st := range p.Status.EphemeralContainerStatuses {
			// Running, or about to run: not done. An image that cannot be
			// pulled leaves the container waiting forever, which is harmless.
			if st.State.Running != nil || st.State.Waiting != nil && !strings.Contains(st.State.Waiting.Reason, "Image") {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("a tracer container of %s/%s is still running after %v: %v\n%+v", d.ns, d.name, timeout, err, last.Status.EphemeralContainerStatuses)
	}
	if last.Status.Phase != corev1.PodRunning {
		t.Fatalf("target pod is %s, want Running", last.Status.Phase)
	}
	for _, st := range last.Status.ContainerStatuses {
		if st.RestartCount != 0 || st.State.Running == nil {
			t.Fatalf("target container %s: restarts %d, state %+v; the trace harmed it", st.Name, st.RestartCount, st.State)
		}
	}
}
