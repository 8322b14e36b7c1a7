package runner

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// fakeProc writes a /proc-like tree: pid -> (ppid, cgroup line).
func fakeProc(t *testing.T, procs map[int][2]string) string {
	t.Helper()
	root := t.TempDir()
	for pid, p := range procs {
		dir := filepath.Join(root, fmt.Sprint(pid))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "status"), []byte("Name:\tx\nPPid:\t"+p[0]+"\n"), 0o644)
		os.WriteFile(filepath.Join(dir, "cgroup"), []byte(p[1]+"\n"), 0o644)
	}
	os.MkdirAll(filepath.Join(root, "self"), 0o755) // non-numeric entries are skipped
	return root
}

func TestFindTargetPID(t *testing.T) {
	const app, other = "aaaa1111", "bbbb2222"
	shared := fakeProc(t, map[int][2]string{
		1:  {"0", "0::/k8s.io/pause"},
		7:  {"0", "0::/k8s.io/" + other},
		9:  {"0", "0::/k8s.io/" + app},
		12: {"9", "0::/k8s.io/" + app},
	})
	perContainer := fakeProc(t, map[int][2]string{
		1:  {"0", "0::/"},
		30: {"0", "0::/"},
	})
	for _, c := range []struct {
		name   string
		proc   string
		id     string
		shared bool
		want   int
		err    error
	}{
		{"shared namespace: the container's oldest process", shared, app, true, 9, nil},
		{"shared namespace: other container", shared, other, true, 7, nil},
		{"shared namespace: unknown container", shared, "cccc", true, 0, ErrTargetNotFound},
		{"own namespace: PID 1", perContainer, app, false, 1, nil},
		{"own namespace: no ID", perContainer, "", false, 1, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := FindTargetPID(c.proc, c.id, c.shared)
			if got != c.want || !errors.Is(err, c.err) {
				t.Fatalf("got %d, %v; want %d, %v", got, err, c.want, c.err)
			}
		})
	}
}

func TestTypeSource(t *testing.T) {
	withBTF := t.TempDir()
	os.MkdirAll(filepath.Join(withBTF, "kernel/btf"), 0o755)
	os.WriteFile(filepath.Join(withBTF, "kernel/btf/vmlinux"), []byte("btf"), 0o644)
	headers := t.TempDir()
	os.MkdirAll(filepath.Join(headers, "6.1.0/build/include"), 0o755)
	empty := t.TempDir()
	t.Setenv("BPFTRACE_KERNEL_SOURCE", "")

	for _, c := range []struct {
		name    string
		k       Kernel
		env     int
		wantErr bool
	}{
		{"BTF", Kernel{SysRoot: withBTF, ModulesRoot: empty, Release: "6.1.0"}, 0, false},
		{"headers", Kernel{SysRoot: empty, ModulesRoot: headers, Release: "6.1.0"}, 2, false},
		{"neither", Kernel{SysRoot: empty, ModulesRoot: empty, Release: "6.1.0"}, 0, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			env, desc, err := c.k.TypeSource()
			if (err != nil) != c.wantErr || len(env) != c.env {
				t.Fatalf("got env %v, %q, %v", env, desc, err)
			}
			if err != nil && !errors.Is(err, ErrKernelUnsupported) {
				t.Fatalf("error %v is not ErrKernelUnsupported", err)
			}
		})
	}
}
