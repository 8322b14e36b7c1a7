package main

import (
	"os/exec"
	"strings"
	"testing"
)

// moduleVersions runs `go list` with format in dir and maps each module
// path it prints to its version (a replacement's, when replaced).
func moduleVersions(t *testing.T, dir string, args ...string) map[string]string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list %v in %s: %v\n%s", args, dir, err, out)
	}
	versions := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			versions[f[0]] = f[1]
		}
	}
	return versions
}

// The plugin links the modules the local cluster's Kubernetes is built from
// (client-go and its kin) at the versions that build uses, and both build
// alike (scripts/cluster/build-k8s.sh, the Makefile: static, -trimpath):
// then a cold machine compiles those packages once, for both.
func TestSharedModulesMatchTheCluster(t *testing.T) {
	const version = `{{if .Replace}}{{.Replace.Version}}{{else}}{{.Version}}{{end}}`
	plugin := moduleVersions(t, ".", "-deps", "-f", `{{with .Module}}{{.Path}} `+version+`{{end}}`, ".")
	cluster := moduleVersions(t, "scripts/cluster/k8s", "-m", "-f", `{{.Path}} `+version, "all")
	shared := 0
	for path, v := range plugin {
		cv, ok := cluster[path]
		if !ok || v == "" {
			continue
		}
		shared++
		if cv != v {
			t.Errorf("the plugin links %s %s, the cluster's Kubernetes %s: align them (go get %s@%s) so that a cold machine compiles them once", path, v, cv, path, cv)
		}
	}
	if shared < 20 {
		t.Fatalf("only %d modules shared with the cluster's build: is scripts/cluster/k8s readable?", shared)
	}
}
