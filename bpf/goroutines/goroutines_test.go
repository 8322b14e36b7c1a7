package goroutines

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"

	"github.com/trace-debug/kubectl-trace-debug/bpf/stacks"
)

var (
	workerStack = []stacks.Frame{{Func: "runtime.gopark", File: "proc.go", Line: 435}, {Func: "runtime.chanrecv1"}, {Func: "main.worker", File: "/app/main.go", Line: 12}, {Func: "runtime.goexit"}}
	sleeper     = []stacks.Frame{{Func: "time.Sleep"}, {Func: "main.sleeper", File: "/app/main.go", Line: 15}, {Func: "runtime.goexit"}}
)

// A pod's dump travels as JSON, merges with another pod's (the same
// program's groups are one, unless kept per pod), and is shown as text,
// maps and a goroutine profile go tool pprof reads.
func TestDump(t *testing.T) {
	a := &Dump{Dropped: 1}
	for i := 0; i < 3; i++ {
		a.Add(Group{Count: 1, State: "chan receive", Frames: workerStack, Process: "server", Waited: time.Duration(i) * time.Minute})
	}
	a.Add(Group{Count: 2, State: "sleep", Frames: sleeper, Process: "server"})
	var b bytes.Buffer
	if err := Write(&b, a); err != nil {
		t.Fatal(err)
	}
	back, err := Read(b.String())
	if err != nil || back.Total != 5 || len(back.Groups) != 2 || back.Groups[0].Count != 3 || back.Groups[0].Waited != 2*time.Minute {
		t.Fatalf("read back %+v, %v", back, err)
	}
	m := Merge([]string{"web-1", "web-2"}, []*Dump{back, back}, false)
	if m.Total != 10 || m.Dropped != 2 || len(m.Groups) != 2 || m.Groups[0].Count != 6 {
		t.Fatalf("merged %+v", m)
	}
	if pp := Merge([]string{"web-1", "web-2"}, []*Dump{back, back}, true); len(pp.Groups) != 4 || pp.Groups[0].Pod == "" {
		t.Fatalf("per pod %+v", pp)
	}
	var text bytes.Buffer
	if err := m.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"goroutine profile: total 10 (2 more moved while read, left out)\n", "\n6 @ chan receive, the longest for 2m0s [server]\n", "#\tmain.worker\t/app/main.go:12\n", "\n4 @ sleep [server]\n"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
	maps := m.Maps()
	if w := maps.Find("@goroutines"); w == nil || w.Entries["main.worker"] == nil || w.Entries["main.worker"].N != 6 || w.Entries["main.sleeper"].N != 4 {
		t.Fatalf("@goroutines %+v", w)
	}
	if s := maps.Find("@states"); s == nil || s.Entries["chan receive"] == nil || s.Entries["chan receive"].N != 6 {
		t.Fatalf("@states %+v", s)
	}
	var pb bytes.Buffer
	if err := m.PProf().Write(&pb); err != nil {
		t.Fatal(err)
	}
	prof, err := profile.Parse(&pb)
	if err != nil || len(prof.SampleType) != 1 || prof.SampleType[0].Type != "goroutine" {
		t.Fatalf("pprof: %v %+v", err, prof)
	}
	total := int64(0)
	for _, s := range prof.Sample {
		total += s.Value[0]
		if s.Label["state"] == nil {
			t.Errorf("a sample without its state: %+v", s.Label)
		}
	}
	if total != 10 {
		t.Fatalf("pprof counts %d goroutines, want 10", total)
	}
}
