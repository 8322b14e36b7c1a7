package stacks

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/pprof/profile"
)

// A profile written as pprof reads back with the same stacks and counts:
// inlined frames, innermost first, kept.
func TestFromPProf(t *testing.T) {
	p := &Profile{Hz: 99, Stacks: []Stack{
		{Frames: []Frame{{Func: "main.step", File: "m.go", Line: 3}, {Func: "main.warm", File: "m.go", Line: 9}, {Func: "main.main"}}, Count: 3, Process: "server"},
		{Frames: []Frame{{Func: "main.hot"}, {Func: "main.main"}}, Count: 7, Process: "server"},
	}}
	var b bytes.Buffer
	if err := p.PProf(nil).Write(&b); err != nil {
		t.Fatal(err)
	}
	pp, err := profile.Parse(&b)
	if err != nil {
		t.Fatal(err)
	}
	got, err := FromPProf(pp)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]uint64{"main.hot": 7, "main.step": 3, "main.warm": 0, "main.main": 0}
	total := map[string]uint64{"main.hot": 7, "main.step": 3, "main.warm": 3, "main.main": 10}
	for _, r := range got.Top() {
		if r.Self != want[r.Func] || r.Total != total[r.Func] {
			t.Errorf("%s: self %d total %d, want %d and %d", r.Func, r.Self, r.Total, want[r.Func], total[r.Func])
		}
	}
	if sh := got.TotalShares(); sh["main.main"] != 100 || sh["main.hot"] != 70 || sh["main.warm"] != 30 {
		t.Errorf("total shares %v", sh)
	}
	if len(got.Top()) != 4 || got.Samples() != 10 {
		t.Fatalf("read back %d functions, %d samples", len(got.Top()), got.Samples())
	}
	if _, err := FromPProf(&profile.Profile{}); err == nil {
		t.Fatal("a profile without sample types is refused")
	}
}

// A wall-clock profile travels as one (its header says so) and its table
// counts goroutine samples, not CPU time.
func TestWallProfileTop(t *testing.T) {
	p := &Profile{Wall: true, Hz: 10, Duration: 3e9, Stacks: []Stack{{Frames: []Frame{{Func: "[chan receive]"}, {Func: "main.parked"}}, Count: 30}}}
	var b bytes.Buffer
	if err := Write(&b, p); err != nil {
		t.Fatal(err)
	}
	back, err := Read(b.String())
	if err != nil || !back.Wall {
		t.Fatalf("read back %+v, %v", back, err)
	}
	var top bytes.Buffer
	if err := back.WriteTop(&top, 5); err != nil || !strings.HasPrefix(top.String(), "30 wall samples, 10 a second over 3s (each sample about 100ms of one goroutine's or thread's time)\n") {
		t.Fatalf("top: %v\n%s", err, top.String())
	}
}
