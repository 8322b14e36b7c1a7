//go:build e2e

package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	corev1 "k8s.io/api/core/v1"
)

// heapJSON is what -o json writes of a memory profile.
type heapJSON struct {
	Heap struct {
		Rate  int64 `json:"rate"`
		Alloc bool  `json:"alloc"`
	} `json:"heap"`
	Stacks []struct {
		Frames []struct {
			Func string `json:"func"`
		} `json:"frames"`
		Values []int64 `json:"values"`
	} `json:"stacks"`
}

// bytesUnder is the bytes of value index i (stacks.HeapTypes' order) of
// the stacks that hold fn.
func (h heapJSON) bytesUnder(fn string, i int) int64 {
	var n int64
	for _, s := range h.Stacks {
		for _, f := range s.Frames {
			if f.Func == fn && len(s.Values) == 4 {
				n += s.Values[i]
				break
			}
		}
	}
	return n
}

// goHeapUnder is the in-use bytes Go's own /debug/pprof/heap of the pod
// counts under fn.
func goHeapUnder(t *testing.T, d demoPod, fn string) int64 {
	t.Helper()
	resp, err := http.Get(d.url() + "debug/pprof/heap")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p, err := profile.Parse(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	inuse := -1
	for i, st := range p.SampleType {
		if st.Type == "inuse_space" {
			inuse = i
		}
	}
	var n int64
	for _, s := range p.Sample {
	holds:
		for _, l := range s.Location {
			for _, line := range l.Line {
				if line.Function.Name == fn {
					n += s.Value[inuse]
					break holds
				}
			}
		}
	}
	return n
}

// --heap on a stripped Go server holding 64 MiB in main.cache and churning
// small buffers in main.churn, built by the oldest and the newest
// supported releases: main.cache's in-use bytes within 10% of Go's own
// heap profile read just before and after (once the runtime has published
// main.cache's allocations); --alloc, on the process just started, finds
// main.churn allocating and main.cache not (its allocations, made before
// the window, are published during it); a memory budget fails; a binary whose
// linker left the profile out exits 18 saying what to change.
func TestHeap(t *testing.T) {
	ns := newNamespace(t)
	for _, release := range []string{"go1.21", "go1.27"} {
		t.Run(release, func(t *testing.T) {
			d := startDemo(t, ns, func(p *corev1.Pod) {
				p.Name = "heap-" + strings.ReplaceAll(release, ".", "-")
				c := &p.Spec.Containers[0]
				c.Command = append([]string{"/app/parked-" + release, "-n", "10", "-cache", "64", "-churn"}, c.Command[1:]...)
			})
			// --alloc on the young process: main.cache's allocations, made
			// before the window, are published in it; they are not in it.
			var h heapJSON
			out, stderr, code := runPlugin(t, 90*time.Second, "-n", ns, "pod/"+d.name, "--alloc", "--duration", "3s", "-o", "json")
			if code != 0 || json.Unmarshal([]byte(out), &h) != nil || !h.Heap.Alloc {
				t.Fatalf("--alloc -o json: code %d\n%s\n%s", code, out[:min(len(out), 2000)], stderr)
			}
			churned, cached := h.bytesUnder("main.churn", 1), h.bytesUnder("main.cache", 1)
			if churned < 1<<20 || cached != 0 {
				t.Errorf("--alloc over 3 s: main.churn allocated %d bytes, main.cache %d; want main.churn's MiBs and nothing of main.cache's", churned, cached)
			}
			t.Logf("--alloc over 3 s: main.churn %d bytes allocated, main.cache %d", churned, cached)

			// The runtime publishes allocations two collections after they
			// are made: wait until its own profile holds main.cache's.
			for deadline := time.Now().Add(30 * time.Second); goHeapUnder(t, d, "main.cache") < 60<<20 && time.Now().Before(deadline); {
				time.Sleep(500 * time.Millisecond)
			}
			before := goHeapUnder(t, d, "main.cache")
			out, stderr, code = runPlugin(t, 90*time.Second, "-n", ns, "pod/"+d.name, "--heap", "-o", "json")
			after := goHeapUnder(t, d, "main.cache")
			h = heapJSON{}
			if code != 0 || json.Unmarshal([]byte(out), &h) != nil {
				t.Fatalf("--heap -o json: code %d\n%s\n%s", code, out[:min(len(out), 2000)], stderr)
			}
			ours := h.bytesUnder("main.cache", 3)
			for _, theirs := range []int64{before, after} {
				if d := ours - theirs; d*10 > theirs || -d*10 > theirs {
					t.Errorf("main.cache: %d bytes in use by --heap, %d by Go's own heap profile: more than 10%% apart", ours, theirs)
				}
			}
			t.Logf("%s: main.cache %d bytes in use by --heap, Go's own %d before and %d after (rate %d); %s", release, ours, before, after, h.Heap.Rate, lastLine(stderr, "memory profiles of"))

			_, stderr, code = runPlugin(t, 90*time.Second, "-n", ns, "pod/"+d.name, "--heap", "--assert", `@inuse_bytes["main.cache"] < 10000000`)
			if code != 14 || !strings.Contains(stderr, `"main.cache"`) {
				t.Errorf("a memory budget of 10 MB for main.cache: code %d, want 14 naming it\n%s", code, stderr)
			}
		})
	}
	t.Run("profile off", func(t *testing.T) {
		d := startDemo(t, ns, func(p *corev1.Pod) {
			p.Name = "heap-off"
			c := &p.Spec.Containers[1]
			c.Command, c.Stdin, c.TTY = []string{"/app/nopprof"}, false, false
		})
		out, stderr, code := runPlugin(t, 90*time.Second, "-n", ns, "pod/"+d.name, "-c", "shell", "--heap")
		if code != 18 || out != "" || !strings.Contains(stderr, "the linker turned it off") || !strings.Contains(stderr, "importing net/http/pprof or runtime/pprof") {
			t.Errorf("--heap on a binary without the profile: code %d, want 18 saying why and what to change, nothing on stdout\n%s\n%s", code, out, stderr)
		}
	})
}
