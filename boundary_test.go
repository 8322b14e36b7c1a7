package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The client and the in-container runner are separate programs with a hard
// boundary: the client never links eBPF loading code, the runner never links
// Kubernetes client code. Both may share bpf/protocol. Inside the client,
// the layers import one way: commands (debug) → group → session → kube →
// pods, with exit and progress (the client's voice on stderr) beneath them
// all; only the command layer uses cobra,
// pflag and kubectl's flag types, and pods links no client-go.
const module = "github.com/trace-debug/kubectl-trace-debug"

// clientLayers are the client's packages, highest first.
var clientLayers = []string{"debug", "debug/group", "debug/session", "debug/kube", "debug/pods", "debug/exit", "debug/progress"}

// sharedBpf are bpf/'s packages that both programs use: the contract, the
// reader of a program, the maps and the stacks; they link no eBPF and no
// Kubernetes code. Every other package under bpf/ is podOnly: it runs in
// the runner, and the client links none of it.
var (
	sharedBpf = []string{"bpf/protocol", "bpf/program", "bpf/mapmerge", "bpf/stacks", "bpf/goroutines"}
	podOnly   = []string{"bpf/runner", "bpf/gofunc", "bpf/goproc", "bpf/symbols", "bpf/cpuprofile", "bpf/cfi", "bpf/offcpu", "bpf/syscalls", "bpf/pidns", "bpf/cmd"}
)

// pureClient are the client's packages of logic alone, which the command
// layer uses.
var pureClient = []string{"debug/assert", "debug/junit"}

// commandOnly are what only the command layer may import itself (client-go
// links pflag underneath every layer; that is not the layer's choice).
var commandOnly = []string{"github.com/spf13/cobra", "github.com/spf13/pflag", "k8s.io/cli-runtime/pkg/genericclioptions",
	"k8s.io/cli-runtime/pkg/genericiooptions", "k8s.io/kubectl"}

// rule is what one package may not link: packages (exactly), trees of
// packages (a path and everything beneath it), and trees it may not
// import itself.
type rule struct {
	pkg                  string
	packages, trees, own []string
}

// rules are every package's rules: the two programs' boundary, and each
// client layer's.
func rules() []rule {
	kubetest := module + "/debug/kube/kubetest"
	client := rule{pkg: ".", trees: []string{"github.com/cilium/ebpf", kubetest}}
	for _, p := range podOnly {
		client.trees = append(client.trees, module+"/"+p)
	}
	rs := []rule{client, {pkg: "./bpf/cmd/trace-debug-runner", trees: []string{"k8s.io", module + "/debug"}}}
	for _, s := range sharedBpf {
		rs = append(rs, rule{pkg: "./" + s, trees: []string{"github.com/cilium/ebpf", "k8s.io", module + "/debug"}})
	}
	for i, layer := range clientLayers {
		r := rule{pkg: "./" + layer, trees: []string{kubetest}}
		for _, higher := range clientLayers[:i] {
			r.packages = append(r.packages, module+"/"+higher)
		}
		if i > 0 {
			r.own = commandOnly
		}
		switch layer {
		case "debug/pods":
			r.trees = append(r.trees, "k8s.io/client-go", "k8s.io/cli-runtime")
		case "debug/exit", "debug/progress":
			r.trees = append(r.trees, "k8s.io")
		}
		rs = append(rs, r)
	}
	// The assertions and the JUnit report are pure: no cluster, no layer
	// of the client, no flags.
	for _, pure := range pureClient {
		r := rule{pkg: "./" + pure, trees: []string{"k8s.io", kubetest}, own: commandOnly}
		for _, layer := range clientLayers {
			r.packages = append(r.packages, module+"/"+layer)
		}
		rs = append(rs, r)
	}
	return rs
}

// under reports whether package dep is path or beneath it.
func under(dep, path string) bool { return dep == path || strings.HasPrefix(dep, path+"/") }

// violations lists what r forbids among deps (every package linked) and
// imports (the package's own imports).
func violations(r rule, deps, imports []string) []string {
	var bad []string
	for _, d := range deps {
		for _, p := range r.packages {
			if d == p {
				bad = append(bad, d)
			}
		}
		for _, tree := range r.trees {
			if under(d, tree) {
				bad = append(bad, d)
			}
		}
	}
	for _, d := range imports {
		for _, tree := range r.own {
			if under(d, tree) {
				bad = append(bad, d)
			}
		}
	}
	return bad
}

// goList runs `go list args...` and splits its output into words.
func goList(t *testing.T, args ...string) []string {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list %v: %v\n%s", args, err, out)
	}
	return strings.Fields(string(out))
}

func TestImportBoundary(t *testing.T) {
	for _, r := range rules() {
		deps := goList(t, "-deps", r.pkg)
		if len(deps) < 3 {
			t.Fatalf("go list %s listed too little to judge: %v", r.pkg, deps)
		}
		imports := goList(t, "-f", `{{join .Imports " "}}`, r.pkg)
		for _, d := range violations(r, deps, imports) {
			t.Errorf("%s links %s", r.pkg, d)
		}
	}
}

// The rules catch what they are for: a lower layer importing a higher one,
// a flag package below the commands, client-go in the pure package, the
// test fake in a program.
func TestBoundaryRules(t *testing.T) {
	rs := map[string]rule{}
	for _, r := range rules() {
		rs[r.pkg] = r
	}
	for _, c := range []struct {
		pkg, dep string
		own      bool // imported by the package itself, not only linked
		bad      bool
	}{
		{"./debug/session", module + "/debug/group", false, true},
		{"./debug/kube", module + "/debug/session", false, true},
		{"./debug/pods", module + "/debug/kube", false, true},
		{"./debug/pods", module + "/debug", false, true},
		{"./debug/group", "github.com/spf13/cobra", true, true},
		{"./debug/session", "k8s.io/cli-runtime/pkg/genericclioptions", true, true},
		{"./debug/pods", "k8s.io/client-go/kubernetes", false, true},
		{"./debug/exit", "k8s.io/api/core/v1", false, true},
		{"./debug/progress", module + "/debug/kube", false, true},
		{"./debug/progress", "k8s.io/api/core/v1", false, true},
		{"./debug/kube", module + "/debug/progress", false, false},
		{".", module + "/debug/kube/kubetest", false, true},
		{"./debug/session", module + "/debug/kube/kubetest", false, true},
		{"./bpf/cmd/trace-debug-runner", module + "/debug/exit", false, true},
		{"./debug/kube", "github.com/spf13/pflag", false, false}, // linked by client-go, not imported
		{"./debug/group", module + "/debug/session", false, false},
		{"./debug/session", module + "/debug/kube", false, false},
		{"./debug/kube", module + "/debug/pods", false, false},
		{"./debug/pods", module + "/debug/exit", false, false},
		{"./debug/assert", "k8s.io/api/core/v1", false, true},
		{"./debug/junit", module + "/debug/group", false, true},
		{"./debug/junit", module + "/debug/assert", false, false},
		{"./debug/pods", "k8s.io/api/core/v1", false, false},
		{"./debug", module + "/debug/group", true, false},
		{"./debug", "github.com/spf13/cobra", true, false},
		{"./debug/kube", "k8s.io/cli-runtime/pkg/resource", true, false},
		{".", module + "/bpf/gofunc", false, true},
		{".", module + "/bpf/symbols", false, true},
		{".", module + "/bpf/mapmerge", false, false},
		{"./bpf/mapmerge", "github.com/cilium/ebpf", false, true},
		{"./bpf/stacks", "k8s.io/api/core/v1", false, true},
		{"./bpf/program", module + "/debug/pods", false, true},
	} {
		var imports []string
		if c.own {
			imports = []string{c.dep}
		}
		if got := len(violations(rs[c.pkg], []string{c.dep}, imports)) > 0; got != c.bad {
			t.Errorf("%s with %s: forbidden %v, want %v", c.pkg, c.dep, got, c.bad)
		}
	}
}

// Every package of the client is a layer or a pure package in the lists
// above (or the test fake): a new one is given its place in the rules.
func TestDebugPackagesArePlaced(t *testing.T) {
	placed := append(append([]string{"debug/kube/kubetest"}, clientLayers...), pureClient...)
	for _, pkg := range goList(t, "./debug/...") {
		rel := strings.TrimPrefix(pkg, module+"/")
		found := false
		for _, p := range placed {
			found = found || p == rel
		}
		if !found {
			t.Errorf("%s is in no layer of the client and not pure: place it in clientLayers or pureClient", rel)
		}
	}
}

// Every package under bpf/ is either shared or pod-only: a new one is
// placed on one side, in the lists above and in its package doc.
func TestBpfPackagesAreSharedOrPodOnly(t *testing.T) {
	for _, pkg := range goList(t, "./bpf/...") {
		rel := strings.TrimPrefix(pkg, module+"/")
		shared := false
		for _, s := range sharedBpf {
			shared = shared || rel == s
		}
		pod := false
		for _, p := range podOnly {
			pod = pod || under(rel, p)
		}
		if shared == pod {
			t.Errorf("%s is neither shared nor pod-only (or both): add it to sharedBpf or podOnly, and say which in its package doc", rel)
		}
		if pkg == module+"/bpf/cmd/trace-debug-runner" {
			continue // the runner binary: pod-only by what it is
		}
		says := map[bool]string{true: "// Shared: ", false: "// Pod-only: "}[shared]
		dir := goList(t, "-f", "{{.Dir}}", pkg)[0]
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		found := false
		for _, f := range files {
			b, _ := os.ReadFile(f)
			found = found || strings.Contains(string(b), says)
		}
		if !found {
			t.Errorf("%s's package doc does not say %q", rel, says)
		}
	}
}
