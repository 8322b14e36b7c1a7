//go:build root

package runner

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trace-debug/kubectl-trace-debug/internal/syncbuf"
)

// The rewritten syscall wildcard prints what the original prints for the
// same events: both run at once over a workload of their own, and every
// syscall tracepoint of this kernel is mapped to a number. The same lines in
// the same order, but for entries of equal value, whose order bpftrace
// leaves to the kernel's hash map: two runs of the original itself on the
// same events order them differently (measured; each map hashes with a seed
// of its own), so that is as identical as bpftrace is to itself.
func TestSyscallWildcardRewriteIsExact(t *testing.T) {
	f := features(t)
	if !f.SyscallRewrite {
		t.Skipf("bpftrace %s: the runner does not rewrite syscall wildcards (0.24)", f.Version)
	}
	k := HostKernel()
	if err := k.MountTracing(); err != nil {
		t.Fatal(err)
	}
	tps, err := SyscallTracepoints(k.EventsDir())
	if err != nil {
		t.Fatalf("this kernel's syscall tracepoints: %v", err)
	}
	// A workload whose comm no other process has: ls, under another name.
	dir := t.TempDir()
	wl := filepath.Join(dir, "td-wildcard")
	ls, _ := exec.LookPath("ls")
	if b, err := os.ReadFile(ls); err != nil || os.WriteFile(wl, b, 0o755) != nil {
		t.Fatalf("copy ls: %v", err)
	}
	for _, src := range []string{
		`tracepoint:syscalls:sys_enter_* /comm == "td-wildcard"/ { @[probe] = count(); }`,
		`tracepoint:syscalls:sys_exit_* /comm == "td-wildcard"/ { @calls[probe] = count(); @ret[probe] = sum(args.ret); @nr[args.__syscall_nr] = count(); }`,
	} {
		t.Run(strings.Fields(src)[0], func(t *testing.T) {
			c, err := Compose(src, ComposeOptions{Features: Features{Version: f.Version, SyscallRewrite: true}, Syscalls: tps}, FileBinaries{})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(c.Program, "\ntracepoint:raw_syscalls:sys_") || strings.Contains(c.Program, "tracepoint:syscalls:sys_enter_* ") {
				t.Fatalf("not rewritten: %v", c.Notes)
			}
			original, rewritten := startBpftraceRaw(t, src), startBpftraceRaw(t, c.Program)
			original.waitIn(t, original.stderr, "Attached")
			rewritten.waitIn(t, rewritten.stderr, "Attached")
			if err := fillTables("/proc", rewritten.cmd.Process.Pid, c.Tables); err != nil {
				t.Fatal(err)
			}
			for range 5 {
				if out, err := exec.Command(wl, "-la", "/", "/proc/self/", dir).CombinedOutput(); err != nil {
					t.Fatalf("%v: %s", err, out)
				}
			}
			time.Sleep(200 * time.Millisecond)
			want, got := original.stop(t), rewritten.stop(t)
			if tiesSorted(got) != tiesSorted(want) || !bytes.Contains(want, []byte("sys_")) {
				t.Fatalf("rewritten:\n%s\noriginal:\n%s", got, want)
			}
		})
	}
}

// rawRun is bpftrace running a program as given.
type rawRun struct {
	cmd            *exec.Cmd
	stdout, stderr *syncbuf.Buffer
}

func startBpftraceRaw(t *testing.T, src string) *rawRun {
	t.Helper()
	r := &rawRun{stdout: &syncbuf.Buffer{}, stderr: &syncbuf.Buffer{}}
	r.cmd = exec.Command(tracer(), "-e", src)
	r.cmd.Stdout, r.cmd.Stderr = r.stdout, r.stderr
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.cmd.Process.Kill(); _ = r.cmd.Wait() })
	return r
}

func (r *rawRun) waitIn(t *testing.T, buf *syncbuf.Buffer, want string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(buf.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q within 2 minutes:\n%s", want, buf.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop ends bpftrace the Ctrl-C way and returns what it printed.
func (r *rawRun) stop(t *testing.T) []byte {
	t.Helper()
	_ = r.cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- r.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("bpftrace: %v\n%s", err, r.stderr.String())
		}
	case <-time.After(3 * time.Minute):
		t.Fatalf("bpftrace did not end within 3 minutes of SIGINT")
	}
	return []byte(r.stdout.String())
}

// tiesSorted orders each run of map lines of equal value by key, as the
// only freedom bpftrace's printed order has.
func tiesSorted(out []byte) string {
	lines := strings.Split(string(out), "\n")
	value := func(l string) string {
		if i := strings.LastIndex(l, "]: "); i >= 0 && strings.HasPrefix(l, "@") {
			return l[:strings.Index(l, "[")] + " " + l[i+3:]
		}
		return ""
	}
	for i := 0; i < len(lines); {
		j := i + 1
		for j < len(lines) && value(lines[i]) != "" && value(lines[j]) == value(lines[i]) {
			j++
		}
		slices.Sort(lines[i:j])
		i = j
	}
	return strings.Join(lines, "\n")
}
