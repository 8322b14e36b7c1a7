package cpuprofile

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// names is a Namer over a fixed table.
type names map[uint64]string

func (n names) Name(a uint64) string { return n[a] }

var sampled = []Sampled{
	{Frames: []string{"main.spin", "runtime.main", "runtime.goexit"}, Count: 75},
	{Frames: []string{"main.other", "main.main", "runtime.main", "runtime.goexit"}, Count: 20},
	{Frames: []string{"asm_exc_page_fault", "main.spin", "runtime.main", "runtime.goexit"}, Count: 5},
}

func TestFrames(t *testing.T) {
	st := Stack{User: []uint64{1, 2}, Kernel: []uint64{9}}
	got := st.Frames(names{1: "main.spin", 2: "runtime.main"}, names{9: "schedule"})
	if strings.Join(got, ",") != "schedule,main.spin,runtime.main" {
		t.Fatalf("got %q", got)
	}
	if got := st.Frames(nil, names{9: "schedule"}); got[1] != "0x1" {
		t.Fatalf("an unreadable process keeps its addresses: %q", got)
	}
}

func TestFolded(t *testing.T) {
	want := "runtime.goexit;runtime.main;main.main;main.other 20\n" +
		"runtime.goexit;runtime.main;main.spin 75\n" +
		"runtime.goexit;runtime.main;main.spin;asm_exc_page_fault 5\n"
	if got := Folded(append(sampled, Sampled{Frames: []string{"main.spin", "runtime.main", "runtime.goexit"}, Count: 0})); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

// go tool pprof reads the profile: main.spin holds 80% of the CPU in all
// (75 samples alone, 5 under a page fault), main.other 20%.
func TestProfileReadByPprof(t *testing.T) {
	p := Profile(sampled, 99, map[string]string{"pod": "web-1", "container": "server"})
	if err := p.CheckValid(); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "cpu.pb.gz")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Write(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	out, err := exec.Command("go", "tool", "pprof", "-top", "-cum", "-sample_index=cpu", file).CombinedOutput()
	if err != nil {
		t.Fatalf("go tool pprof: %v\n%s", err, out)
	}
	for _, want := range []string{`(?m)80\.00%.*main\.spin$`, `(?m)20\.00%.*main\.other$`, `(?m)100%.*runtime\.goexit$`} {
		if !regexp.MustCompile(want).Match(out) {
			t.Errorf("pprof -top lacks %s:\n%s", want, out)
		}
	}
	tags, err := exec.Command("go", "tool", "pprof", "-tags", file).CombinedOutput()
	if err != nil || !strings.Contains(string(tags), "web-1") || !strings.Contains(string(tags), "server") {
		t.Errorf("pprof -tags: %v\n%s", err, tags)
	}
}
