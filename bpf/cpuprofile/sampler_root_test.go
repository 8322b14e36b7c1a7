//go:build root

package cpuprofile

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trace-debug/kubectl-trace-debug/bpf/stacks"
	"github.com/trace-debug/kubectl-trace-debug/bpf/symbols"
	"github.com/trace-debug/kubectl-trace-debug/internal/testgo"
	"github.com/trace-debug/kubectl-trace-debug/internal/testns"
)

// textRanges are the executable mappings of process pid.
func textRanges(t *testing.T, pid int) [][2]uint64 {
	t.Helper()
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/maps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][2]uint64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 || !strings.Contains(fields[1], "x") {
			continue
		}
		lo, hi, _ := strings.Cut(fields[0], "-")
		a, _ := strconv.ParseUint(lo, 16, 64)
		b, _ := strconv.ParseUint(hi, 16, 64)
		out = append(out, [2]uint64{a, b})
	}
	return out
}

// The sampler sees the target namespace's CPU-bound Go program, with
// symbols and stripped (named from .gopclntab), mostly in its hot function,
// with user stacks walked to the root the Go runtime's way: main.spin is a
// frameless leaf, whose caller main.main a frame-pointer walk drops
// (golang/go issue 73753); unwound by the pcsp tables it keeps it. And
// never a busy process of another PID namespace.
func TestSamplerSeesTheNamespaceOnly(t *testing.T) {
	for _, c := range []struct {
		name  string
		flags []string
	}{{"symbols", nil}, {"stripped", []string{"-ldflags=-s -w"}}} {
		t.Run(c.name, func(t *testing.T) {
			exe, err := testgo.Build(t.TempDir(), testgo.Spinner, c.flags...)
			if err != nil {
				t.Fatal(err)
			}
			target := testns.Start(t, exe)
			sibling := testns.Start(t, "sh", "-c", "while :; do :; done")
			siblingText := textRanges(t, sibling)

			// The samples name the target's PID in its namespace (1); it is
			// read here through its PID in ours.
			read := func(uint32) (*symbols.Process, error) { return symbols.NewProcess("/proc", target) }
			s, err := Start(Target{PIDNamespace: "/proc/" + strconv.Itoa(target) + "/ns/pid", Hz: 99, Process: read})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			time.Sleep(2 * time.Second)
			s.Stop()
			sampled, lost, err := s.Stacks()
			if err != nil {
				t.Fatal(err)
			}
			names, err := symbols.NewProcess("/proc", target)
			if err != nil {
				t.Fatal(err)
			}
			kernel, err := symbols.NewKernel("/proc/kallsyms")
			if err != nil {
				t.Fatal(err)
			}
			named := &stacks.Profile{Hz: 99}
			var total, inSpin, fromRoot, withCaller uint64
			for _, st := range sampled {
				named.Stacks = append(named.Stacks, stacks.Stack{Frames: st.frames(names, kernel), Count: st.Count})
				total += st.Count
				if st.PID != 1 {
					t.Errorf("a sample of PID %d: the target namespace has only PID 1", st.PID)
				}
				for _, a := range st.User {
					for _, r := range siblingText {
						if a >= r[0] && a < r[1] {
							t.Fatalf("a sample in the sibling's code (%#x): another PID namespace was sampled", a)
						}
					}
				}
				if len(st.User) == 0 || names.Name(st.User[0]) != "main.spin" {
					continue
				}
				inSpin += st.Count
				if len(st.User) > 1 && names.Name(st.User[1]-1) == "main.main" {
					withCaller += st.Count
				}
				for _, a := range st.User[1:] {
					if n := names.Name(a); n == "main.main" || n == "runtime.main" {
						fromRoot += st.Count
						break
					}
				}
			}
			t.Logf("%d samples on %d CPUs, %d in main.spin (%d with its caller main.main, %d walked up to main.main or runtime.main), lost %+v", total, s.CPUs(), inSpin, withCaller, fromRoot, lost)
			if total < 50 {
				t.Fatalf("%d samples in 2 s at 99 Hz of a CPU-bound process", total)
			}
			if inSpin*10 < total*8 {
				t.Fatalf("%d of %d samples named main.spin: want most", inSpin, total)
			}
			if fromRoot*10 < inSpin*9 {
				t.Fatalf("%d of %d samples in main.spin reach main.main or runtime.main: the user stacks are not whole", fromRoot, inSpin)
			}
			if withCaller*10 < inSpin*9 {
				t.Fatalf("%d of %d samples in main.spin have its caller main.main under it: a frameless leaf's caller is lost", withCaller, inSpin)
			}
			// The same as pprof reads it, and as folded stacks.
			file := filepath.Join(t.TempDir(), "cpu.pb.gz")
			f, err := os.Create(file)
			if err != nil {
				t.Fatal(err)
			}
			if err := named.PProf(map[string]string{"pod": "test"}).Write(f); err != nil {
				t.Fatal(err)
			}
			f.Close()
			out, err := exec.Command("go", "tool", "pprof", "-top", "-sample_index=samples", file).CombinedOutput()
			if err != nil {
				t.Fatalf("go tool pprof: %v\n%s", err, out)
			}
			m := regexp.MustCompile(`(?m)^\s*\d+\s+(\d+(?:\.\d+)?)%.*\smain\.spin$`).FindSubmatch(out)
			if m == nil {
				t.Fatalf("pprof -top lacks main.spin:\n%s", out)
			}
			if share, _ := strconv.ParseFloat(string(m[1]), 64); share < 80 {
				t.Fatalf("pprof -top gives main.spin %.1f%% of the samples, want most:\n%s", share, out)
			}
			if folded := named.Folded(false); !strings.Contains(folded, "runtime.main;main.main;main.spin ") {
				t.Fatalf("folded stacks lack runtime.main;main.main;main.spin:\n%s", folded)
			}
		})
	}
}

func TestStartRefusesHz(t *testing.T) {
	for _, hz := range []int{0, MaxHz + 1} {
		if _, err := Start(Target{PIDNamespace: "/proc/self/ns/pid", Hz: hz}); err == nil || !strings.Contains(err.Error(), "Hz") {
			t.Errorf("Hz %d: %v", hz, err)
		}
	}
}

// profiled is what profileFor sampled of one process.
type profiled struct {
	profile *stacks.Profile // named
	sampled []Stack
	lost    Lost
	proc    *symbols.Process // the process's reader, through its PID here
}

// profileFor samples process target (PID 1 of a namespace of its own, as
// testns.Start makes it) at hz for d, unwinding as the runner does, and
// names what it sampled.
func profileFor(t *testing.T, target, hz int, d time.Duration) profiled {
	t.Helper()
	read := func(uint32) (*symbols.Process, error) { return symbols.NewProcess("/proc", target) }
	s, err := Start(Target{PIDNamespace: "/proc/" + strconv.Itoa(target) + "/ns/pid", Hz: hz, Process: read})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	time.Sleep(d)
	s.Stop()
	var pr profiled
	if pr.sampled, pr.lost, err = s.Stacks(); err != nil {
		t.Fatal(err)
	}
	if pr.proc, err = read(1); err != nil {
		t.Fatal(err)
	}
	pr.profile = Name("/proc", pr.sampled, map[uint32]*symbols.Process{1: pr.proc})
	return pr
}
