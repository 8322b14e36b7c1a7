package runner

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrKernelUnsupported means the kernel side cannot be prepared: no type
// information (BTF or headers) or no tracefs.
var ErrKernelUnsupported = errors.New("kernel not ready for tracing")

// Kernel describes where the kernel's tracing interfaces are. Paths are
// fields so tests can point them at a fake tree.
type Kernel struct {
	// SysRoot is normally /sys.
	SysRoot string
	// ModulesRoot is normally /lib/modules.
	ModulesRoot string
	// Release is the kernel release (uname -r).
	Release string
}

// HostKernel returns the Kernel of the running system.
func HostKernel() Kernel {
	var u unix.Utsname
	_ = unix.Uname(&u)
	return Kernel{SysRoot: "/sys", ModulesRoot: "/lib/modules", Release: unix.ByteSliceToString(u.Release[:])}
}

// TypeSource tells where bpftrace will find kernel types: the BTF file, a
// headers directory, or an error naming what is missing and what to do.
func (k Kernel) TypeSource() (env []string, desc string, err error) {
	btf := filepath.Join(k.SysRoot, "kernel/btf/vmlinux")
	if f, err := os.Open(btf); err == nil {
		f.Close()
		return nil, "BTF at " + btf, nil
	}
	for _, dir := range []string{os.Getenv("BPFTRACE_KERNEL_SOURCE"), filepath.Join(k.ModulesRoot, k.Release, "build")} {
		if dir == "" {
			continue
		}
		if st, err := os.Stat(filepath.Join(dir, "include")); err == nil && st.IsDir() {
			return []string{"BPFTRACE_KERNEL_SOURCE=" + dir, "BPFTRACE_KERNEL_BUILD=" + dir}, "kernel headers at " + dir, nil
		}
	}
	return nil, "", fmt.Errorf("%w: kernel %s has no BTF (%s is missing) and no kernel headers (%s/%s/build); "+
		"run on nodes whose kernel is built with CONFIG_DEBUG_INFO_BTF=y, or use a runner image that ships the headers of this kernel",
		ErrKernelUnsupported, k.Release, btf, k.ModulesRoot, k.Release)
}

// MountTracing mounts debugfs and tracefs where bpftrace looks for them,
// unless they are there already. The mounts live in the container's own mount
// namespace and vanish with it.
func (k Kernel) MountTracing() error {
	debug := filepath.Join(k.SysRoot, "kernel/debug")
	tracing := filepath.Join(k.SysRoot, "kernel/tracing")
	mounts := []struct{ fstype, dir, probe string }{
		{"debugfs", debug, filepath.Join(debug, "tracing")}, // tracefs automounts below debugfs
		{"tracefs", tracing, tracing},
	}
	for _, m := range mounts {
		if hasTracefs(m.probe) {
			continue
		}
		if err := unix.Mount(m.fstype, m.dir, m.fstype, 0, ""); err != nil && !errors.Is(err, unix.EBUSY) {
			return fmt.Errorf("%w: mount %s on %s: %w (the tracer must run in a privileged container)", ErrKernelUnsupported, m.fstype, m.dir, err)
		}
	}
	if !hasTracefs(tracing) && !hasTracefs(filepath.Join(debug, "tracing")) {
		return fmt.Errorf("%w: no tracefs at %s or %s/tracing after mounting", ErrKernelUnsupported, tracing, debug)
	}
	return nil
}

// EventsDir is the tracefs directory of the kernel's trace events, or "".
func (k Kernel) EventsDir() string {
	for _, dir := range []string{filepath.Join(k.SysRoot, "kernel/tracing"), filepath.Join(k.SysRoot, "kernel/debug/tracing")} {
		if hasTracefs(dir) {
			return filepath.Join(dir, "events")
		}
	}
	return ""
}

// TraceableFunctions reads the kernel functions kprobes may attach to
// (tracefs' available_filter_functions, "name" or "name [module]" a line).
// Some kernels refuse to list them (lockdown).
func (k Kernel) TraceableFunctions() (map[string]bool, error) {
	events := k.EventsDir()
	if events == "" {
		return nil, errors.New("read the kernel's traceable functions: no tracefs")
	}
	b, err := os.ReadFile(filepath.Join(filepath.Dir(events), "available_filter_functions"))
	if err != nil {
		return nil, fmt.Errorf("read the kernel's traceable functions: %w", err)
	}
	fns := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		if name, _, _ := strings.Cut(line, " "); name != "" {
			fns[name] = true
		}
	}
	return fns, nil
}

// hasTracefs reports whether dir is a mounted tracefs.
func hasTracefs(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "available_events"))
	return err == nil
}

// RaiseMemlock lifts RLIMIT_MEMLOCK for the tracer, which kernels before 5.11
// charge BPF maps against. Without CAP_SYS_RESOURCE it raises the soft limit
// to the hard one; newer kernels account BPF memory to the cgroup instead, so
// a limit that cannot be raised is not an error.
func RaiseMemlock() {
	inf := unix.Rlimit{Cur: unix.RLIM_INFINITY, Max: unix.RLIM_INFINITY}
	if unix.Setrlimit(unix.RLIMIT_MEMLOCK, &inf) == nil {
		return
	}
	var cur unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_MEMLOCK, &cur) == nil && cur.Cur < cur.Max {
		cur.Cur = cur.Max
		_ = unix.Setrlimit(unix.RLIMIT_MEMLOCK, &cur)
	}
}
