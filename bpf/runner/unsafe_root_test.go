//go:build root

package runner

import (
	"context"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
	"github.com/trace-debug/kubectl-trace-debug/internal/syncbuf"
	"github.com/trace-debug/kubectl-trace-debug/internal/testgo"
)

// The runner's own view of what reaches --unsafe, against bpftrace's: every
// program that bpftrace, without --unsafe, refuses as unsafe is one the
// runner refuses when it adds --unsafe (TestComposeNeverLetsUnsafeRideOnItsUnsafe
// holds the same table).
func TestUnsafeAsBpftraceSeesIt(t *testing.T) {
	if err := HostKernel().MountTracing(); err != nil {
		t.Fatal(err)
	}
	f := DetectFeatures(tracer())
	lib := filepath.Join(t.TempDir(), "lib.bt")
	if err := os.WriteFile(lib, []byte(`macro sneaky() { system("echo hi") }`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, c := range reachUnsafe {
		if !c.bpftraceRefuses {
			continue // the runner refuses these for caution; bpftrace does not see them as unsafe
		}
		t.Run(name, func(t *testing.T) {
			if compareVersions(parseVersion(f.Version), parseVersion(c.since)) < 0 {
				t.Skipf("bpftrace %s does not know this construct (since %s)", f.Version, c.since)
			}
			src := strings.ReplaceAll(c.decls, "IMPORT", lib) + "\ntracepoint:raw_syscalls:sys_enter { " + c.body + " exit(); }"
			args := []string{"-e", src}
			if compareVersions(parseVersion(f.Version), []int{0, 22}) >= 0 {
				args = append([]string{"--dry-run"}, args...)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, tracer(), args...).CombinedOutput()
			if err == nil || !strings.Contains(string(out), "unsafe") {
				t.Fatalf("bpftrace %s without --unsafe should refuse this as unsafe: %v\n%s", f.Version, err, out)
			}
		})
	}
	// bpftrace runs a program that asks for __builtin_safe_mode differently
	// under --unsafe: the runner refuses it too.
	if f.Version != "" && compareVersions(parseVersion(f.Version), []int{0, 25}) >= 0 {
		src := `BEGIN { if comptime __builtin_safe_mode { printf("safe\n"); } else { printf("unsafe\n"); } exit(); }`
		safe, _ := exec.Command(tracer(), "-e", src).Output()
		unsafe, _ := exec.Command(tracer(), "--unsafe", "-e", src).Output()
		if !strings.Contains(string(safe), "safe") || !strings.Contains(string(unsafe), "unsafe") || string(safe) == string(unsafe) {
			t.Fatalf("__builtin_safe_mode: safe %q, unsafe %q", safe, unsafe)
		}
	}
}

// cWork is a C program whose work() is one 4-byte instruction and a RET:
// work+2 lies inside an instruction.
const cWork = `int __attribute__((noinline)) work(int x) { return x * 3 + 1; }
int main(int argc, char **argv) { return work(argc) == 0; }
`

// Beside a stripped Go executable's return probe, for which the runner
// gives bpftrace --unsafe, each attach point --unsafe would loosen is what
// bpftrace alone refuses and, with that --unsafe, takes (a probe placed
// mid-instruction); the runner refuses it before anything is attached, and
// the Go target serves on.
func TestUnsafeRideRefusedForReal(t *testing.T) {
	if err := HostKernel().MountTracing(); err != nil {
		t.Fatal(err)
	}
	f := features(t)
	if !f.OffsetUprobes {
		t.Skipf("bpftrace %s does not rewrite Go return probes, so the runner never adds --unsafe", f.Version)
	}
	dir := t.TempDir()
	cBin := filepath.Join(dir, "work")
	if out, err := exec.Command("sh", "-c", "printf '%s' \"$0\" | gcc -O1 -x c -o "+cBin+" - && cp "+cBin+" "+cBin+"-stripped && strip "+cBin+"-stripped", cWork).CombinedOutput(); err != nil {
		t.Fatalf("build the C target: %v\n%s", err, out)
	}
	work := symbolValue(t, cBin, "work")
	exe, err := testgo.Build(t.TempDir(), counterSource, "-ldflags=-s -w")
	if err != nil {
		t.Fatal(err)
	}
	target := exec.Command("unshare", "--mount", exe)
	stdin, _ := target.StdinPipe()
	served := &syncbuf.Buffer{}
	target.Stdout = served
	if err := target.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); _ = target.Wait() }()
	goRet := fmt.Sprintf(`uretprobe:/proc/%d/exe:"main.counterValue" { @r = count(); }`, target.Process.Pid)
	for _, c := range []struct{ point, bpftraceAlone string }{
		{fmt.Sprintf("uprobe:%s-stripped:0x%x", cBin, work+2), "Could not determine instruction boundary"},
		{fmt.Sprintf("uprobe:%s:work+2", cBin), "middle of instruction"},
		{"kprobe:0xffffffff81000000", "requires --unsafe"},
	} {
		t.Run(c.point, func(t *testing.T) {
			alone := func(args ...string) (string, error) {
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				out, err := exec.CommandContext(ctx, tracer(), append(args, "-e", c.point+" { } BEGIN { exit(); }")...).CombinedOutput()
				return string(out), err
			}
			if out, err := alone(); err == nil || !strings.Contains(out, c.bpftraceAlone) {
				t.Fatalf("bpftrace alone should refuse it (%q): %v\n%s", c.bpftraceAlone, err, out)
			}
			if out, _ := alone("--unsafe"); strings.Contains(out, "requires --unsafe") || strings.Contains(out, "Use --unsafe") {
				t.Fatalf("with --unsafe bpftrace should let it through:\n%s", out)
			}
			r := startRunner(t, context.Background(), session(c.point+" { @n = count(); }\n"+goRet, nil))
			r.send(protocol.Hello)
			if code := r.wait(t); code != protocol.ExitUnsafeRide || !strings.Contains(r.stderr.String(), c.point) || strings.Contains(r.stderr.String(), protocol.ReadyPrefix) {
				t.Fatalf("exit code %d, want ExitUnsafeRide naming %s, nothing attached\n%s", code, c.point, r.stderr)
			}
			before := strings.Count(served.String(), "served")
			fmt.Fprintln(stdin, "request")
			deadline := time.Now().Add(10 * time.Second)
			for strings.Count(served.String(), "served") == before {
				if time.Now().After(deadline) {
					t.Fatalf("the Go target stopped serving:\n%s", served)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

// symbolValue is the value of an ELF file's symbol name.
func symbolValue(t *testing.T, path, name string) uint64 {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range syms {
		if s.Name == name {
			return s.Value
		}
	}
	t.Fatalf("%s has no symbol %s", path, name)
	return 0
}
