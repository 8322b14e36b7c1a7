//go:build root

package runner

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
