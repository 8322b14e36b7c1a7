package debug

import (
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

func TestPodLines(t *testing.T) {
	var mu sync.Mutex
	for _, c := range []struct {
		name   string
		json   bool
		writes []string
		want   string
	}{
		{"text, lines split anyhow", false, []string{"@calls: 2\n\n@x", "[1]: 3\npart"}, "[web-1] @calls: 2\n\n[web-1] @x[1]: 3\n[web-1] part\n"},
		{"json gets a pod field", true, []string{`{"type": "map", "data": {"@calls": 2}}` + "\n{}\n"}, `{"pod": "web-1", "type": "map", "data": {"@calls": 2}}` + "\n" + `{"pod": "web-1"}` + "\n"},
		{"json mode, a text line", true, []string{"hello\n"}, "[web-1] hello\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out strings.Builder
			l := &podLines{w: &out, pod: "web-1", json: c.json, mu: &mu}
			for _, w := range c.writes {
				if n, err := l.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			l.Flush()
			if out.String() != c.want {
				t.Fatalf("got %q, want %q", out.String(), c.want)
			}
		})
	}
}

func TestGroupResult(t *testing.T) {
	targets := podTargets{What: "deployment/web", Running: []corev1.Pod{{ObjectMeta: metav1.ObjectMeta{Name: "a"}}, {ObjectMeta: metav1.ObjectMeta{Name: "b"}}}}
	refused := codef(ExitProgramRejected, "rejected")
	for _, c := range []struct {
		name    string
		results []error
		skipped []skippedPod
		code    int
	}{
		{"every pod traced", []error{nil, nil}, nil, 0},
		{"one failed", []error{nil, refused}, nil, ExitPartial},
		{"all failed alike", []error{refused, refused}, nil, ExitProgramRejected},
		{"all failed differently", []error{refused, codef(ExitImage, "pull")}, nil, ExitPartial},
		{"all traced, one pod not running", []error{nil, nil}, []skippedPod{{"c", "not running (Pending)"}}, ExitPartial},
	} {
		t.Run(c.name, func(t *testing.T) {
			var stderr strings.Builder
			o := NewTraceOptions(genericiooptions.IOStreams{ErrOut: &stderr})
			tg := targets
			tg.Skipped = c.skipped
			err := o.groupResult("trace-debug-x", tg, c.results)
			if ExitCode(err) != c.code {
				t.Fatalf("code %d (%v), want %d", ExitCode(err), err, c.code)
			}
			for _, pod := range []string{"[a]", "[b]"} {
				if !strings.Contains(stderr.String(), pod) {
					t.Errorf("no outcome for %s:\n%s", pod, stderr.String())
				}
			}
			if len(c.skipped) > 0 && !strings.Contains(stderr.String(), "[c] not traced: not running (Pending)") {
				t.Errorf("skipped pod not reported:\n%s", stderr.String())
			}
		})
	}
}

func TestFanOutAndReady(t *testing.T) {
	in := make(chan os.Signal, 1)
	outs, stop := fanOut(in, 3)
	defer stop()
	in <- os.Interrupt
	for i, c := range outs {
		select {
		case <-c:
		case <-time.After(5 * time.Second):
			t.Fatalf("pod %d did not get the signal", i)
		}
	}
	calls := 0
	var r readyCount
	r.want = 3
	for i := 0; i < 3; i++ {
		r.hook(func() { calls++ })()
		if want := map[bool]int{true: 1, false: 0}[i == 2]; calls != want {
			t.Fatalf("after %d ready: done called %d times, want %d", i+1, calls, want)
		}
	}
}
