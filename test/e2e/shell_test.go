//go:build e2e

package e2e

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/remotecommand"
)

// typeIntoShell attaches to the demo pod's interactive bash, as a person at
// its terminal would, and types line.
func typeIntoShell(t *testing.T, d demoPod, line string) {
	t.Helper()
	req := client.CoreV1().RESTClient().Post().Resource("pods").Namespace(d.ns).Name(d.name).SubResource("attach").
		VersionedParams(&corev1.PodAttachOptions{Container: "shell", Stdin: true, Stdout: true, TTY: true}, scheme.ParameterCodec)
	exec, err := remotecommand.NewSPDYExecutor(restConfig, "POST", req.URL())
	if err != nil {
		t.Fatalf("attach to shell: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	in, w := io.Pipe()
	go func() {
		_, _ = io.WriteString(w, line+"\n")
		time.Sleep(time.Second) // let bash read it before detaching
		cancel()
	}()
	_ = exec.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: in, Stdout: io.Discard, Tty: true})
}

// TestUretprobeOnBashReadline: the seed's bashreadline.bt, a uretprobe on
// readline in the "shell" container, prints each line typed there.
func TestUretprobeOnBashReadline(t *testing.T) {
	t.Parallel()
	d := startDemo(t, newNamespace(t), nil)
	s := startPlugin(t, "-n", d.ns, "pod/"+d.name, "-c", "shell", "-e",
		ready+`uretprobe:/proc/$container_pid/root/bin/bash:readline { printf("READLINE %s\n", str(retval)); }`)
	s.waitOutput(t, "tracing\n", 60*time.Second)
	// bash already waits inside readline(), entered before the probe was
	// attached, so the first line's return is not seen: type two.
	typeIntoShell(t, d, "true")
	typeIntoShell(t, d, "echo e2e-typed-line")
	s.waitOutput(t, "READLINE echo e2e-typed-line", 20*time.Second)
	s.interrupt(t)
	if code := s.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit code %d, want 0\n%s", code, s.stderr)
	}
	if strings.Count(s.stdout.String(), "READLINE echo e2e-typed-line") != 1 {
		t.Fatalf("want the typed line once:\n%s", s.stdout)
	}
	assertNoHarm(t, d, 10*time.Second)
}
