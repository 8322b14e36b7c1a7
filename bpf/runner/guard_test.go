package runner

import (
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/trace-debug/kubectl-trace-debug/internal/testgo"
)

// buildGoTarget builds a tiny Go program (stripped when asked) into dir.
func buildGoTarget(t *testing.T, dir string, stripped bool) string {
	t.Helper()
	var flags []string
	if stripped {
		flags = append(flags, "-ldflags=-s -w")
	}
	exe, err := testgo.Build(dir, "package main\n\n//go:noinline\nfunc counterValue() int { return 1 }\n\nfunc main() { println(counterValue()) }\n", flags...)
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

func TestGoUretprobes(t *testing.T) {
	goBin := buildGoTarget(t, t.TempDir(), false)
	stripped := buildGoTarget(t, t.TempDir(), true)
	bash, _ := exec.LookPath("bash")
	for _, c := range []struct {
		name, program string
		want          []string
	}{
		{"seed's one-liner", `uretprobe:` + goBin + `:"main.counterValue" { printf("%d\n", retval) }`, []string{goBin + ":main.counterValue"}},
		{"stripped, short form", `ur:` + stripped + `:main.counterValue { @ = count(); }`, []string{stripped + ":main.counterValue"}},
		{"two probes, one Go", `uretprobe:` + bash + `:readline, uretprobe:` + goBin + `:main.main { }`, []string{goBin + ":main.main"}},
		{"uprobe on Go is fine", `uprobe:` + goBin + `:"main.counterValue" { @ = count(); }`, nil},
		{"uretprobe on C is fine", `uretprobe:` + bash + `:readline { }`, nil},
		{"library name", `uretprobe:libc:malloc { }`, nil},
		{"missing file", `uretprobe:/nonexistent/bin:f { }`, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := GoUretprobes(c.program)
			if strings.Join(got, "|") != strings.Join(c.want, "|") {
				t.Fatalf("GoUretprobes = %v, want %v", got, c.want)
			}
		})
	}
	err := CheckGoUretprobes(`uretprobe:`+goBin+`:"main.counterValue" { }`, false)
	if !errors.Is(err, ErrUnsafeProgram) || !strings.Contains(err.Error(), "--func main.counterValue") || !strings.Contains(err.Error(), "--unsafe-uretprobe") {
		t.Fatalf("CheckGoUretprobes = %v", err)
	}
	if err := CheckGoUretprobes(`uretprobe:`+goBin+`:"main.counterValue" { }`, true); err != nil {
		t.Fatalf("--unsafe-uretprobe must let it through: %v", err)
	}
}
