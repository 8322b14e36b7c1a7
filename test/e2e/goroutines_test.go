//go:build e2e

package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/trace-debug/kubectl-trace-debug/bpf/goroutines"
)

// --goroutines on a stripped Go server with 10 000 parked goroutines, built
// by the oldest and the newest supported Go releases, reports the total
// its own goroutine profile gives (±1%) and names where they are parked and
// why; its counts fail a leak check.
func TestGoroutines(t *testing.T) {
	ns := newNamespace(t)
	for _, release := range []string{"go1.21", "go1.27"} {
		t.Run(release, func(t *testing.T) {
			d := startDemo(t, ns, func(p *corev1.Pod) {
				p.Name = "parked-" + strings.ReplaceAll(release, ".", "-")
				c := &p.Spec.Containers[0]
				c.Command = append([]string{"/app/parked-" + release}, c.Command[1:]...)
			})
			theirs := goTotal(t, d)
			out, stderr, code := runPlugin(t, 90*time.Second, "-n", ns, "pod/"+d.name, "--goroutines", "-o", "json")
			dump, err := goroutines.Read(out)
			if code != 0 || err != nil {
				t.Fatalf("--goroutines -o json: code %d, %v\n%s\n%s", code, err, out, stderr)
			}
			if diff := dump.Total - theirs; diff*100 > theirs || -diff*100 > theirs {
				t.Errorf("%d goroutines read, Go's own profile counts %d: more than 1%% apart", dump.Total, theirs)
			}
			want := map[string]struct {
				state string
				n     int
			}{"main.parked": {"chan receive", 10000}, "main.sleeper": {"sleep", 10}, "main.locker": {"sync.Mutex.Lock", 10}}
			inlined := false // sync.(*Mutex).Lock, inlined into main.locker, is a frame of its own
			for _, g := range dump.Groups {
				if w, ok := want[g.Runs()]; ok && g.State == w.state && g.Count == w.n {
					delete(want, g.Runs())
				}
				for i := 1; i < len(g.Frames); i++ {
					inlined = inlined || g.Frames[i-1].Func == "sync.(*Mutex).Lock" && g.Frames[i].Func == "main.locker" && strings.HasSuffix(g.Frames[i].File, "parked/main.go")
				}
			}
			if !inlined {
				t.Errorf("main.locker's stack does not name sync.(*Mutex).Lock inlined in it, at main.locker's own line")
			}
			if len(want) > 0 {
				t.Errorf("groups not found: %v\n%s", want, out[:min(len(out), 3000)])
			}
			t.Logf("%s: %d goroutines read, %d by Go's own profile; %s", release, dump.Total, theirs, lastLine(stderr, "goroutines of"))

			out, _, code = runPlugin(t, 90*time.Second, "-n", ns, "pod/"+d.name, "--goroutines")
			if code != 0 || !strings.Contains(out, "\n10000 @ chan receive") || !strings.Contains(out, "#\tmain.parked\t") {
				t.Errorf("--goroutines (text): code %d\n%s", code, out[:min(len(out), 2000)])
			}
			gp := t.TempDir() + "/g.pprof"
			_, stderr, code = runPlugin(t, 90*time.Second, "-n", ns, "pod/"+d.name, "--goroutines", "-o", "pprof", "--output-file", gp, "--assert", `@goroutines["main.parked"] < 100`)
			if code != 14 || !strings.Contains(stderr, `"main.parked": 10000`) {
				t.Errorf("a leak check: code %d, want 14 naming main.parked's 10000\n%s", code, stderr)
			}
			// The goroutine profile, as go tool pprof reads it: main.parked holds 10 000.
			top, err := exec.Command("go", "tool", "pprof", "-top", "-cum", gp).CombinedOutput()
			if err != nil || !regexp.MustCompile(`(?m)^\s*\d+\s+[0-9.]+%\s+[0-9.]+%\s+10000\s+[0-9.]+%\s+main\.parked$`).Match(top) {
				t.Errorf("go tool pprof -top -cum on the goroutine profile: %v\n%s", err, top)
			}
			// The pod's other container runs bash alone: no Go process to read.
			out, stderr, code = runPlugin(t, 90*time.Second, "-n", ns, "pod/"+d.name, "-c", "shell", "--goroutines")
			if code != 17 || out != "" || !strings.Contains(stderr, "(bash) is not Go") || !strings.Contains(stderr, "no Go process of the target could be read") {
				t.Errorf("--goroutines on bash: code %d, want 17 saying why, and nothing on stdout\n%s\n%s", code, out, stderr)
			}
		})
	}
}

// goTotal is the total of the demo pod's own goroutine profile.
func goTotal(t *testing.T, d demoPod) int {
	t.Helper()
	resp, err := http.Get(d.url() + "debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line, _ := bufio.NewReader(resp.Body).ReadString('\n')
	n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "goroutine profile: total ")))
	if err != nil {
		t.Fatalf("Go's own goroutine profile: %q", line)
	}
	return n
}

// lastLine is the last line of s holding what, or "".
func lastLine(s, what string) string {
	out := ""
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, what) {
			out = l
		}
	}
	return out
}

// --wall on the same target puts each goroutine's time on its true wait:
// of the samples of main.parked, main.sleeper, main.locker (on the mutex
// main.holder takes a second at a time, handing it round between) and
// main.holder (asleep holding it), at least 90% each topped by its wait;
// the outputs are --cpu's.
func TestWall(t *testing.T) {
	ns := newNamespace(t)
	d := startDemo(t, ns, func(p *corev1.Pod) {
		p.Name = "wall"
		c := &p.Spec.Containers[0]
		c.Command = append([]string{"/app/parked-go1.27", "-n", "1000"}, c.Command[1:]...)
	})
	out, stderr, code := runPlugin(t, 90*time.Second, "-n", ns, "pod/"+d.name, "--wall", "--duration", "3s", "-o", "json")
	var p cpuJSON
	if code != 0 || json.Unmarshal([]byte(out), &p) != nil || p.Samples == 0 {
		t.Fatalf("--wall -o json: code %d\n%s\n%s", code, out[:min(len(out), 2000)], stderr)
	}
	truth := map[string]string{"main.parked": "[chan receive]", "main.sleeper": "[sleep]", "main.locker": "[sync.Mutex.Lock]", "main.holder": "[sleep]"}
	all, right := map[string]uint64{}, map[string]uint64{}
	for _, s := range p.Stacks {
		for _, f := range s.Frames {
			if wait, ok := truth[f.Func]; ok {
				all[f.Func] += s.Count
				if len(s.Frames) > 0 && s.Frames[0].Func == wait {
					right[f.Func] += s.Count
				}
			}
		}
	}
	for fn := range truth {
		if all[fn] == 0 || right[fn]*10 < all[fn]*9 {
			t.Errorf("%s: %d of its %d samples on its true wait %s, want 90%% at least", fn, right[fn], all[fn], truth[fn])
		}
	}
	t.Logf("%d samples; on their true wait: %v of %v; %s", p.Samples, right, all, lastLine(stderr, "readings of the goroutines"))
	out, _, code = runPlugin(t, 90*time.Second, "-n", ns, "pod/"+d.name, "--wall", "--duration", "2s", "-o", "folded")
	if code != 0 || !strings.Contains(out, "main.parked;runtime.chanrecv1;runtime.chanrecv;runtime.gopark;[chan receive] ") {
		t.Errorf("--wall -o folded: code %d\n%s", code, out[:min(len(out), 2000)])
	}
}

// --wall on a container with no Go in it (bash at its prompt, and a
// subshell looping on sleep) follows its threads on and off the CPU from
// the scheduler: each bash's whole window is in the profile (at --hz, as a
// goroutine's would be), the prompt's asleep in its select, the loop's
// between its wait4 for each sleep (the system call and the user stack it
// left the CPU with) and its time on the CPU.
func TestWallThreads(t *testing.T) {
	ns := newNamespace(t)
	d := startDemo(t, ns, func(p *corev1.Pod) { p.Name = "wall-threads" })
	typeIntoShell(t, d, "while :; do sleep 0.1; done &")
	const hz, seconds = 10, 3
	out, stderr, code := runPlugin(t, 90*time.Second, "-n", ns, "pod/"+d.name, "-c", "shell", "--wall", "--duration", fmt.Sprintf("%ds", seconds), "-o", "json")
	var p cpuJSON
	if code != 0 || json.Unmarshal([]byte(out), &p) != nil {
		t.Fatalf("--wall on bash: code %d, want 0\n%s\n%s", code, out[:min(len(out), 2000)], stderr)
	}
	var prompt, loop, waited uint64
	for _, s := range p.Stacks {
		if s.Process != "bash" || len(s.Frames) == 0 {
			continue
		}
		var funcs []string
		for _, f := range s.Frames {
			funcs = append(funcs, f.Func)
			if strings.HasPrefix(f.Func, "bpf_") {
				t.Errorf("a stack holds the tracer's own frame %s: %v", f.Func, s.Frames)
			}
		}
		all := strings.Join(funcs, ";")
		switch {
		case strings.Contains(all, "select"): // the prompt, asleep since before the window
			if s.Frames[0].Func != "[sleeping]" {
				t.Errorf("the prompt's wait is not asleep: %s", all)
			}
			prompt += s.Count
		default:
			loop += s.Count
			if s.Frames[0].Func == "[sleeping]" && strings.Contains(all, "[syscall wait4];wait4") {
				waited += s.Count
			}
		}
	}
	whole := float64(hz * seconds) // one thread's whole window
	for _, c := range []struct {
		what string
		n    uint64
	}{{"the prompt", prompt}, {"the loop", loop}} {
		if r := float64(c.n) / whole; r < 0.85 || r > 1.2 {
			t.Errorf("%s's bash has %d samples, want about %.0f (%d Hz, %d s): %.2f of it", c.what, c.n, whole, hz, seconds, r)
		}
	}
	if waited*3 < loop {
		t.Errorf("%d of the loop's %d samples wait for a sleep in wait4, on the user stack the kernel recorded, want a third at least", waited, loop)
	}
	if !regexp.MustCompile(`(?i)following the threads of \d+ processes that are not Go`).MatchString(stderr) {
		t.Errorf("the session does not say it follows bash's threads\n%s", stderr)
	}
	if t.Failed() {
		for _, s := range p.Stacks {
			t.Logf("%s %d %v", s.Process, s.Count, s.Frames)
		}
	}
	t.Logf("bash: the prompt %d samples, the loop %d (%d waiting for sleep) of %.0f each; %s", prompt, loop, waited, whole, lastLine(stderr, "followed on and off the CPU"))
}
