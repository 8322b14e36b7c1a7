package stacks

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/pprof/profile"
)

// sample is a profile of a process spending 7 of 10 samples in main.hot
// and 3 in main.warm, both called from main.main.
func sample() *Profile {
	return &Profile{Hz: 99, CPUs: 2, Duration: 3 * time.Second, Lost: Lost{UserStacks: 1},
		Stacks: []Stack{
			{Frames: []Frame{{Func: "main.hot", File: "/src/main.go", Line: 10}, {Func: "main.main", File: "/src/main.go", Line: 30}}, Count: 7, Process: "server"},
			{Frames: []Frame{{Func: "main.warm", File: "/src/main.go", Line: 20}, {Func: "main.main", File: "/src/main.go", Line: 31}}, Count: 3, Process: "server"},
		}}
}

func TestWriteRead(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("Sampling...\n")
	if err := Write(&b, sample()); err != nil {
		t.Fatal(err)
	}
	got, err := Read(b.String() + "trace-debug-runner: trace ended, exit code 0\n")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(sample(), got); d != "" {
		t.Fatalf("round trip (-want +got):\n%s", d)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if _, err := Read(strings.Join(lines[:len(lines)-1], "\n")); err == nil {
		t.Fatal("a profile missing a stack must not read")
	}
	if _, err := Read("nothing"); err == nil {
		t.Fatal("no profile must not read")
	}
}

func TestMergeFoldedTop(t *testing.T) {
	m := Merge([]string{"web-1", "web-2"}, []*Profile{sample(), sample()})
	if m.Samples() != 20 || m.Lost.UserStacks != 2 || m.Stacks[2].Pod != "web-2" {
		t.Fatalf("merged: %d samples, lost %+v", m.Samples(), m.Lost)
	}
	if got, want := m.Folded(false), "main.main;main.hot 14\nmain.main;main.warm 6\n"; got != want {
		t.Errorf("folded = %q, want %q", got, want)
	}
	if got := m.Folded(true); !strings.Contains(got, "web-1;main.main;main.hot 7\n") || !strings.Contains(got, "web-2;main.main;main.warm 3\n") {
		t.Errorf("folded per pod = %q", got)
	}
	top := m.Top()
	if top[0] != (Row{"main.hot", 14, 14}) || top[1] != (Row{"main.warm", 6, 6}) || top[2] != (Row{"main.main", 0, 20}) {
		t.Errorf("top = %+v", top)
	}
	var b strings.Builder
	if err := m.WriteTop(&b, 2); err != nil || !strings.Contains(b.String(), "70.0%") || strings.Contains(b.String(), "main.main") {
		t.Errorf("top table (2 rows):\n%s", b.String())
	}
	b.Reset()
	if err := m.WriteJSON(&b); err != nil || !strings.Contains(b.String(), `"self_percent": 70`) {
		t.Errorf("json:\n%s", b.String())
	}
}

// The pprof profile is what go tool pprof reads: it parses back, with
// file and line, both sample types, and the labels.
func TestPProf(t *testing.T) {
	p := Merge([]string{"web-1"}, []*Profile{sample()}).PProf(map[string]string{"container": "app"})
	var b bytes.Buffer
	if err := p.Write(&b); err != nil {
		t.Fatal(err)
	}
	back, err := profile.ParseData(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if err := back.CheckValid(); err != nil {
		t.Fatal(err)
	}
	if len(back.SampleType) != 2 || back.SampleType[1].Type != "cpu" || back.Period != int64(time.Second)/99 {
		t.Fatalf("sample types %v, period %d", back.SampleType, back.Period)
	}
	s := back.Sample[0]
	if s.Value[0] != 7 || s.Label["pod"][0] != "web-1" || s.Label["container"][0] != "app" || s.Label["process"][0] != "server" {
		t.Fatalf("first sample %+v", s)
	}
	if l := s.Location[0].Line[0]; l.Function.Name != "main.hot" || l.Function.Filename != "/src/main.go" || l.Line != 10 {
		t.Fatalf("innermost location %+v %+v", l, l.Function)
	}
	if len(back.Function) != 3 {
		t.Errorf("%d functions, want 3 (main.main once)", len(back.Function))
	}
}

// The flame graph is well-formed SVG holding every frame with its share.
func TestWriteSVG(t *testing.T) {
	var b bytes.Buffer
	p := sample()
	p.Stacks[0].Frames[0].Func = "main.<hot>&co"
	if err := p.WriteSVG(&b, "CPU: pod web", false); err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(&b)
	titles := map[string]bool{}
	inTitle := false
	for {
		tok, err := d.Token()
		if err != nil {
			if err.Error() != "EOF" {
				t.Fatalf("not well-formed XML: %v", err)
			}
			break
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			inTitle = tok.Name.Local == "title"
		case xml.CharData:
			if inTitle {
				titles[string(tok)] = true
			}
		case xml.EndElement:
			inTitle = false
		}
	}
	for _, want := range []string{"all (10 samples, 100.00%)", "main.main (10 samples, 100.00%)", "main.<hot>&co (7 samples, 70.00%)", "main.warm (3 samples, 30.00%)"} {
		if !titles[want] {
			t.Errorf("no frame titled %q in %v", want, titles)
		}
	}
}
