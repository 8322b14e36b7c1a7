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
