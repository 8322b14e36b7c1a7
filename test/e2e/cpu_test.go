//go:build e2e

package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// burner runs the demo server with -burn (binary: /app/server or
// /app/server-stripped): one CPU busy, 70% of it in main.hot.
func burner(binary string, labels map[string]string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Labels = labels
		c := &p.Spec.Containers[0]
		c.Command = append([]string{binary}, append(c.Command[1:], "-burn")...)
	}
}

// hotShare is main.hot's known share of the burner's CPU, in percent.
const hotShare = 70.0

// nearHot fails unless share is within 10 points of main.hot's known share.
func nearHot(t *testing.T, what string, share float64, output string) {
	t.Helper()
	if share < hotShare-10 || share > hotShare+10 {
		t.Errorf("%s: main.hot has %.1f%% of the samples, want %.0f±10\n%s", what, share, hotShare, output)
	}
}

// cpuJSON is the part of -o json the tests read.
type cpuJSON struct {
	Hz      int    `json:"hz"`
	Samples uint64 `json:"samples"`
	Top     []struct {
		Func        string  `json:"func"`
		SelfPercent float64 `json:"self_percent"`
	} `json:"top"`
	Stacks []struct {
		Frames []struct {
			Func string `json:"func"`
			File string `json:"file"`
			Line int    `json:"line"`
		} `json:"frames"`
		Count   uint64 `json:"count"`
		Process string `json:"process"`
		Pod     string `json:"pod"`
	} `json:"stacks"`
}

// totalShare is fn's cumulative share of a JSON profile's samples, in
// percent: the samples whose stack holds it.
func (p cpuJSON) totalShare(fn string) float64 {
	var n uint64
	for _, s := range p.Stacks {
		for _, f := range s.Frames {
			if f.Func == fn {
				n += s.Count
				break
			}
		}
	}
	if p.Samples == 0 {
		return 0
	}
	return 100 * float64(n) / float64(p.Samples)
}

// selfShare is fn's self share in a JSON profile.
func (p cpuJSON) selfShare(fn string) float64 {
	for _, r := range p.Top {
		if r.Func == fn {
			return r.SelfPercent
		}
	}
	return 0
}

// profileJSON runs --cpu -o json on args' target for a few seconds.
func profileJSON(t *testing.T, args ...string) cpuJSON {
	t.Helper()
	out, stderr, code := runPlugin(t, 90*time.Second, append(args, "--cpu", "--duration", "4s", "-o", "json")...)
	var p cpuJSON
	if code != 0 || json.Unmarshal([]byte(out), &p) != nil || p.Samples == 0 {
		t.Fatalf("--cpu -o json: code %d\n%s\n%s", code, out, stderr)
	}
	return p
}

// The CPU profile of a Go target that spends 70% of its CPU in main.hot
// says so in every output, unstripped and stripped alike, with main.step
// shown inlined in main.warm; a sibling pod burning CPU never appears;
// Ctrl-C ends it with the profile so far; the pods of a workload merge; go
// tool pprof reads the pprof file, and the flame graph opens, searches and
// zooms in a real browser.
func TestCPUProfile(t *testing.T) {
	ns := newNamespace(t)
	plain := startDemo(t, ns, burner("/app/server", map[string]string{"app": "burner"}))
	stripped := startDemo(t, ns, func(p *corev1.Pod) {
		burner("/app/server-stripped", map[string]string{"app": "burner"})(p)
		p.Name = "stripped"
	})
	startDemo(t, ns, func(p *corev1.Pod) { // burns CPU in bash, next door
		p.Name = "sibling"
		p.Spec.Containers[1].Command = []string{"/bin/bash", "-c", "while :; do :; done"}
		p.Spec.Containers[1].Stdin, p.Spec.Containers[1].TTY = false, false
	})
	dir := t.TempDir()

	for _, d := range []demoPod{plain, stripped} {
		p := profileJSON(t, "-n", ns, "pod/"+d.name)
		nearHot(t, d.name+" -o json", p.selfShare("main.hot"), "")
		// one CPU busy for about 4 s at 99 Hz: about 400 samples, not twice
		// that (the sibling's), and no process but the server's
		if p.Samples > 600 {
			t.Errorf("%s: %d samples in 4 s at 99 Hz: more than the target's one busy CPU", d.name, p.Samples)
		}
		lines := 0
		for _, s := range p.Stacks {
			if s.Process != "server" && s.Process != "server-stripped" {
				t.Errorf("%s: a stack of process %q: not the target's", d.name, s.Process)
			}
			for _, f := range s.Frames {
				if strings.Contains(f.Func, "bash") {
					t.Errorf("%s: a bash frame (the sibling's?): %+v", d.name, f)
				}
				if f.Func == "main.hot" && strings.HasSuffix(f.File, "images/demo/main.go") && f.Line > 0 {
					lines++
				}
			}
		}
		if lines == 0 {
			t.Errorf("%s: main.hot has no file:line", d.name)
		}
		inlined := false // main.step, inlined into main.warm, is a frame of its own
		for _, s := range p.Stacks {
			if len(s.Frames) > 1 && s.Frames[0].Func == "main.step" && s.Frames[1].Func == "main.warm" && s.Frames[0].Line > 0 {
				inlined = true
			}
		}
		if !inlined {
			t.Errorf("%s: no stack shows main.step inlined in main.warm", d.name)
		}
	}

	// Ctrl-C ends a profile early, with the profile so far.
	s := startPlugin(t, "-n", ns, "pod/"+plain.name, "--cpu", "--duration", "10m", "-o", "folded")
	s.waitOutput(t, "Sampling the on-CPU stacks", 90*time.Second)
	time.Sleep(2 * time.Second)
	s.interrupt(t)
	if code := s.wait(t, 60*time.Second); code != 0 || !strings.Contains(s.stdout.String(), ";main.hot ") {
		t.Fatalf("Ctrl-C during --cpu: code %d, want 0 and the profile so far\n%s\n%s", code, s.stdout.String(), s.stderr.String())
	}

	// Every output of the unstripped server.
	out, stderr, code := runPlugin(t, 90*time.Second, "-n", ns, "pod/"+plain.name, "--cpu", "--duration", "4s")
	if m := regexp.MustCompile(`(?m)^\s*\d+\s+([0-9.]+)%.*main\.hot$`).FindStringSubmatch(out); code != 0 || m == nil {
		t.Fatalf("--cpu (top): code %d\n%s\n%s", code, out, stderr)
	} else {
		share, _ := strconv.ParseFloat(m[1], 64)
		nearHot(t, "top", share, out)
	}
	out, stderr, code = runPlugin(t, 90*time.Second, "-n", ns, "pod/"+plain.name, "--cpu", "--duration", "4s", "-o", "folded")
	if code != 0 {
		t.Fatalf("-o folded: code %d\n%s", code, stderr)
	}
	var hot, all float64
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		i := strings.LastIndexByte(l, ' ')
		n, err := strconv.ParseFloat(l[i+1:], 64)
		if err != nil {
			t.Fatalf("-o folded: not `stack count`: %q", l)
		}
		all += n
		if strings.HasSuffix(l[:i], ";main.hot") {
			hot += n
		}
	}
	nearHot(t, "folded", 100*hot/all, out)

	pprofFile := filepath.Join(dir, "cpu.pprof")
	if _, stderr, code := runPlugin(t, 90*time.Second, "-n", ns, "pod/"+stripped.name, "--cpu", "--duration", "4s", "-o", "pprof", "--output-file", pprofFile); code != 0 {
		t.Fatalf("-o pprof: code %d\n%s", code, stderr)
	}
	top, err := exec.Command("go", "tool", "pprof", "-top", pprofFile).CombinedOutput()
	m := regexp.MustCompile(`(?m)^\s*\S+\s+([0-9.]+)%.*main\.hot$`).FindSubmatch(top)
	if err != nil || m == nil {
		t.Fatalf("go tool pprof -top: %v\n%s", err, top)
	}
	share, _ := strconv.ParseFloat(string(m[1]), 64)
	nearHot(t, "pprof (stripped)", share, string(top))
	tags, err := exec.Command("go", "tool", "pprof", "-tags", pprofFile).CombinedOutput()
	for _, want := range []string{"pod:", stripped.name, "container:", "server", "process:"} {
		if err != nil || !strings.Contains(string(tags), want) {
			t.Errorf("go tool pprof -tags lacks %q: %v\n%s", want, err, tags)
		}
	}

	// A workload's pods merge: both pods' samples, each stack with its pod.
	merged := profileJSON(t, "-n", ns, "-l", "app=burner")
	pods := map[string]uint64{}
	for _, s := range merged.Stacks {
		pods[s.Pod] += s.Count
	}
	if len(pods) != 2 || pods[plain.name] == 0 || pods[stripped.name] == 0 {
		t.Errorf("-l app=burner: samples by pod %v, want both pods'", pods)
	}
	nearHot(t, "merged", merged.selfShare("main.hot"), "")

	// The flame graph, in a real browser: its script runs (the search for
	// main.hot reports the share), and it shows the target's names.
	svg := filepath.Join(dir, "cpu.svg")
	if _, stderr, code := runPlugin(t, 90*time.Second, "-n", ns, "-l", "app=burner", "--cpu", "--duration", "4s", "-o", "svg", "--output-file", svg, "--per-pod"); code != 0 {
		t.Fatalf("-o svg: code %d\n%s", code, stderr)
	}
	dom := headlessDOM(t, "file://"+svg+"?s=main%5C.hot")
	for _, want := range []string{"main.hot (", "main.warm (", plain.name + " (", stripped.name + " ("} {
		if !strings.Contains(dom, want) {
			t.Errorf("the flame graph in Chromium lacks a frame %q", want)
		}
	}
	m2 := regexp.MustCompile(`Matched: ([0-9.]+)%`).FindStringSubmatch(dom)
	if m2 == nil {
		t.Fatalf("the flame graph's search did not run in Chromium:\n%.2000s", dom)
	}
	share, _ = strconv.ParseFloat(m2[1], 64)
	nearHot(t, "svg search in Chromium", share, "")
	// Zoomed into main.warm (?z=), its frame spans the whole width and
	// main.hot's frames are hidden.
	zoomed := headlessDOM(t, "file://"+svg+"?z=main.warm")
	warm := regexp.MustCompile(`<g class="f[^"]*"[^>]*><title>main\.warm \([^<]*</title><rect x="0" [^>]*width="1200"`)
	hidden := regexp.MustCompile(`<g class="f out"[^>]*><title>main\.hot \(`)
	if !warm.MatchString(zoomed) || !hidden.MatchString(zoomed) {
		t.Errorf("zoomed into main.warm in Chromium, its frame does not span the graph or main.hot is not hidden:\n%.3000s", zoomed)
	}
	if keep := os.Getenv("TRACE_DEBUG_KEEP_SVG"); keep != "" { // README's picture comes from here
		b, _ := os.ReadFile(svg)
		_ = os.WriteFile(keep, b, 0o644)
	}
	assertNoHarm(t, plain, 30*time.Second)
	assertNoHarm(t, stripped, 30*time.Second)
}

// headlessDOM opens url in headless Chromium and returns the DOM after
// its scripts ran.
func headlessDOM(t *testing.T, url string) string {
	t.Helper()
	browser, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("no chromium (scripts/deps.sh installs it): %v", err)
	}
	out, err := exec.Command(browser, "--headless", "--no-sandbox", "--disable-gpu", "--allow-file-access-from-files", "--dump-dom", url).Output()
	if err != nil {
		t.Fatalf("chromium --dump-dom: %v", err)
	}
	return string(out)
}
