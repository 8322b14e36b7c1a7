//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestCompletion: shell completion offers the namespace's running pods and
// the target pod's containers, read from the cluster.
func TestCompletion(t *testing.T) {
	t.Parallel()
	d := startDemo(t, newNamespace(t), nil)
	out, stderr, code := runPlugin(t, 30*time.Second, "__complete", "-n", d.ns, "pod/de")
	if code != 0 || !strings.Contains(out, "pod/demo\n") {
		t.Fatalf("pod completion: code %d, out %q, stderr %q", code, out, stderr)
	}
	out, stderr, code = runPlugin(t, 30*time.Second, "__complete", "-n", d.ns, "pod/demo", "-c", "")
	if code != 0 || !strings.Contains(out, "server\nshell\n") {
		t.Fatalf("container completion: code %d, out %q, stderr %q", code, out, stderr)
	}
}

// TestVerbosity: -v=N is kubectl's log level (API requests from 6); the
// version is --version; without -v client-go stays quiet.
func TestVerbosity(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	_, stderr, code := runPlugin(t, 30*time.Second, "list", "-n", ns, "-v=6")
	if code != 0 || !strings.Contains(stderr, `verb="GET"`) || !strings.Contains(stderr, "/namespaces/"+ns+"/pods") {
		t.Fatalf("list -v=6: code %d, want the API requests logged\n%s", code, stderr)
	}
	_, stderr, code = runPlugin(t, 30*time.Second, "list", "-n", ns)
	if code != 0 || stderr != "" {
		t.Fatalf("list: code %d, want nothing on stderr:\n%s", code, stderr)
	}
	out, _, code := runPlugin(t, 30*time.Second, "--version")
	if code != 0 || !strings.Contains(out, "kubectl trace-debug version") {
		t.Fatalf("--version: code %d\n%s", code, out)
	}
}
