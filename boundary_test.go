package main

import (
	"os/exec"
	"strings"
	"testing"
)

// The client and the in-container runner are separate programs with a hard
// boundary: the client never links eBPF loading code, the runner never links
// Kubernetes client code. Both may share bpf/protocol.
const module = "github.com/trace-debug/kubectl-trace-debug"

func TestImportBoundary(t *testing.T) {
	for _, c := range []struct {
		pkg       string
		forbidden []string
	}{
		{".", []string{"github.com/cilium/ebpf", module + "/bpf/runner"}},
		{"./bpf/cmd/trace-debug-runner", []string{"k8s.io/", module + "/debug"}},
	} {
		out, err := exec.Command("go", "list", "-deps", c.pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", c.pkg, err, out)
		}
		deps := strings.Fields(string(out))
		if len(deps) < 10 {
			t.Fatalf("go list %s listed too little to judge: %v", c.pkg, deps)
		}
		for _, d := range deps {
			for _, f := range c.forbidden {
				if strings.Contains(d, f) {
					t.Errorf("%s imports %s", c.pkg, d)
				}
			}
		}
	}
}
