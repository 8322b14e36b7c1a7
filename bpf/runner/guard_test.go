package runner

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// buildGoTarget builds a tiny Go program (stripped when asked) into dir.
func buildGoTarget(t *testing.T, dir string, stripped bool) string {
	t.Helper()
	src := filepath.Join(dir, "main.go")
	os.WriteFile(src, []byte("package main\n\n//go:noinline\nfunc counterValue() int { return 1 }\n\nfunc main() { println(counterValue()) }\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module target\n\ngo 1.21\n"), 0o644)
	bin := filepath.Join(dir, "server")
	args := []string{"build", "-o", bin}
	if stripped {
		args = append(args, "-ldflags=-s -w")
	}
	cmd := exec.Command("go", append(args, ".")...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build target: %v\n%s", err, out)
	}
	return bin
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
