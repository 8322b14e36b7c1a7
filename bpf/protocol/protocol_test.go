package protocol

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestArgsRoundTrip(t *testing.T) {
	full := DefaultSession()
	full.Program = "uprobe:/proc/$container_pid/root/app:\"main.f\" { printf(\"%d\\n\", 1); }\n// --deadline=0"
	full.ContainerID = "abc"
	full.SharedPID = true
	full.Attached = true
	full.Duration = 90 * time.Second
	full.Deadline = 2 * time.Hour
	full.NotAfter = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	full.JSON = true
	full.UnsafeUretprobe = true
	full.NodeWide = true
	full.IgnoreMemoryLimit = true
	full.MarkMaps = true
	minimal := DefaultSession()
	minimal.Program = "BEGIN {}"
	census := DefaultSession()
	census.Syscalls = true
	funcs := DefaultSession()
	funcs.Funcs = []string{"main.counterValue", "main.*"}
	cpu := DefaultSession()
	cpu.CPUHz = 99
	heap := DefaultSession()
	heap.Heap = true
	alloc := DefaultSession()
	alloc.Alloc, alloc.Duration = true, 5*time.Second
	stdin := DefaultSession()
	stdin.ProgramSize, stdin.ProgramSHA256, stdin.ProgramHead = ProgramOnStdin("// big\nBEGIN { }\n")
	for name, s := range map[string]Session{"full": full, "minimal": minimal, "census": census, "funcs": funcs, "cpu": cpu, "heap": heap, "alloc": alloc, "program on stdin": stdin} {
		got, err := ParseArgs(s.Args())
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got.Engine() == "" || got.Native() != (name == "census" || name == "funcs" || name == "cpu" || name == "heap" || name == "alloc") {
			t.Fatalf("%s: engine %q, native %v", name, got.Engine(), got.Native())
		}
		if d := cmp.Diff(s, got); d != "" {
			t.Fatalf("%s: round trip (-want +got):\n%s", name, d)
		}
	}
}

func TestParseArgsRejects(t *testing.T) {
	for name, args := range map[string][]string{
		"no program":      {"--deadline=1h"},
		"both engines":    {"--program=x", "--syscalls"},
		"func and census": {"--func=main.f", "--syscalls"},
		"cpu and program": {"--program=x", "--cpu-hz=99"},
		"unknown flag":    {"--program=x", "--frobnicate"},
		"stray argument":  {"--program=x", "extra"},
		"zero deadline":   {"--program=x", "--deadline=0s"},
		"bad duration":    {"--program=x", "--duration=soon"},
		"stdin and args":  {"--program=x", "--program-size=3", "--program-sha256=" + strings.Repeat("a", 64)},
		"stdin too big":   {"--program-size=9999999", "--program-sha256=" + strings.Repeat("a", 64)},
		"stdin no hash":   {"--program-size=3"},
	} {
		if _, err := ParseArgs(args); !errors.Is(err, ErrUsage) {
			t.Errorf("%s: got %v, want ErrUsage", name, err)
		}
	}
}

func TestResultLine(t *testing.T) {
	for _, code := range []int{0, 1, 70, 130} {
		got, ok := ParseResultLine(ResultLine(code))
		if !ok || got != code {
			t.Errorf("ParseResultLine(ResultLine(%d)) = %d, %v", code, got, ok)
		}
	}
	for _, line := range []string{"", "trace-debug-runner: probes attached (3)", ResultPrefix + " x"} {
		if _, ok := ParseResultLine(line); ok {
			t.Errorf("ParseResultLine(%q) accepted a line that is not a result", line)
		}
	}
}

// The program's own exit code travels after the runner's code for it;
// an older client reads the runner's code alone.
func TestProgramResultLine(t *testing.T) {
	for _, n := range []int{2, 3, 14, 75, 255} {
		line := ProgramResultLine(n)
		code, ok := ParseResultLine(line)
		got, found := ParseProgramExit(line)
		if !ok || code != ExitProgramExit || !found || got != n {
			t.Errorf("%q: code %d %v, program's %d %v; want %d, %d", line, code, ok, got, found, ExitProgramExit, n)
		}
	}
	for _, line := range []string{ResultLine(3), ResultLine(ExitProgramExit), ResultLine(0) + " (the program's own exit(3))"} {
		if n, ok := ParseProgramExit(line); ok {
			t.Errorf("ParseProgramExit(%q) = %d: not a program's exit", line, n)
		}
	}
}

// Each native mode's maps are native maps, with an aggregation the client
// knows, and every native map belongs to a mode.
func TestNativeModeMaps(t *testing.T) {
	seen := map[string]bool{}
	for mode, names := range NativeModeMaps {
		for _, name := range names {
			if NativeMaps[name] == "" {
				t.Errorf("mode %s prints %s, which NativeMaps lacks", mode, name)
			}
			seen[name] = true
		}
	}
	for name := range NativeMaps {
		if !seen[name] {
			t.Errorf("native map %s belongs to no mode", name)
		}
	}
}

func TestSplitFunc(t *testing.T) {
	for _, c := range []struct {
		spec, pattern, results, err string
	}{
		{"main.handle", "main.handle", "", ""},
		{"main.*", "main.*", "", ""},
		{"main.handle=int,error", "main.handle", "int|error", ""},
		{"main.load = *main.T, error", "main.load", "*main.T|error", ""},
		{"main.x=error", "main.x", "error", ""},
		{"=error", "", "", "no function"},
		{"main.x=", "", "", "Go types separated by commas"},
		{"main.x=int,,error", "", "", "Go types separated by commas"},
	} {
		p, r, err := SplitFunc(c.spec)
		if p != c.pattern || strings.Join(r, "|") != c.results || (err == nil) != (c.err == "") || err != nil && !strings.Contains(err.Error(), c.err) {
			t.Errorf("SplitFunc(%q) = %q, %q, %v; want %q, %q, %q", c.spec, p, r, err, c.pattern, c.results, c.err)
		}
	}
}
