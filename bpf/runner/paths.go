package runner

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"

	"github.com/trace-debug/kubectl-trace-debug/bpf/program"
)

// Files finds the files that uprobe, uretprobe and USDT attach points name,
// as the target container sees them. The runner reads the target's root
// through /proc (TargetFiles); tests pass fakes.
type Files interface {
	// Resolve returns the path, in the runner's view, of the file a probe
	// names: an absolute path in the target's root, a library name such as
	// libc, or a command name looked up in the target's PATH. ok is false
	// when the target has no such file; path is then where it would be and
	// why says where the runner looked.
	Resolve(name string) (path string, ok bool, why string)
}

// TargetFiles resolves names in the root of the process PID of ProcRoot.
type TargetFiles struct {
	ProcRoot string
	PID      int
}

func (f TargetFiles) dir() string { return filepath.Join(f.ProcRoot, strconv.Itoa(f.PID)) }

// Root is the target's root directory in the runner's view.
func (f TargetFiles) Root() string { return filepath.Join(f.dir(), "root") }

// Resolve implements Files. Symbolic links are followed inside the target's
// root (an absolute link means the target's /, not the runner's).
func (f TargetFiles) Resolve(name string) (string, bool, string) {
	root := f.Root()
	switch {
	case strings.ContainsAny(name, "*?["):
		return filepath.Join(root, name), true, "" // bpftrace expands the pattern
	case strings.HasPrefix(name, "/"):
		return f.inRoot(name)
	case strings.HasPrefix(name, "lib"):
		if p := f.mappedLibrary(name); p != "" {
			return f.inRoot(p)
		}
		for _, dir := range libraryDirs() {
			m, _ := filepath.Glob(filepath.Join(root, dir, name+".so*"))
			for _, lib := range m {
				if p, ok, _ := f.inRoot(strings.TrimPrefix(lib, root)); ok && isELF(p) {
					return p, true, "" // not libc.so, a linker script
				}
			}
		}
		return filepath.Join(root, name), false, fmt.Sprintf("the target's process %d has no %s mapped and its root (%s) has no %s.so* in %s",
			f.PID, name, root, name, strings.Join(libraryDirs(), ", "))
	}
	for _, dir := range f.pathDirs() {
		if p, ok, _ := f.inRoot(filepath.Join(dir, name)); ok {
			return p, true, ""
		}
	}
	return filepath.Join(root, name), false, fmt.Sprintf("the target's root (%s) has no %s in its PATH (%s)", root, name, strings.Join(f.pathDirs(), ":"))
}

// inRoot is name in the target's root with its links resolved there.
func (f TargetFiles) inRoot(name string) (string, bool, string) {
	root := f.Root()
	p, err := securejoin.SecureJoin(root, name)
	if err != nil {
		return filepath.Join(root, name), false, fmt.Sprintf("resolve %s in the target's root (%s): %v", name, root, err)
	}
	if _, err := os.Stat(p); err != nil {
		return p, false, fmt.Sprintf("the target's root (%s) has no %s", root, name)
	}
	return p, true, ""
}

// mappedLibrary is the path, in the target's root, of the library named
// like name (libc: libc.so.6, libc-2.31.so) that the target has mapped, or "".
func (f TargetFiles) mappedLibrary(name string) string {
	fh, err := os.Open(filepath.Join(f.dir(), "maps"))
	if err != nil {
		return ""
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || !strings.HasPrefix(fields[5], "/") {
			continue
		}
		base := filepath.Base(fields[5])
		if strings.HasPrefix(base, name+".so") || strings.HasPrefix(base, name+"-") {
			return fields[5]
		}
	}
	return ""
}

// isELF reports whether path starts like an ELF file.
func isELF(path string) bool {
	fh, err := os.Open(path)
	if err != nil {
		return false
	}
	defer fh.Close()
	magic := make([]byte, 4)
	_, err = io.ReadFull(fh, magic)
	return err == nil && string(magic) == "\x7fELF"
}

// pathDirs is the target's PATH, from its environment, or the usual one.
func (f TargetFiles) pathDirs() []string {
	b, _ := os.ReadFile(filepath.Join(f.dir(), "environ"))
	for _, kv := range strings.Split(string(b), "\x00") {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok && v != "" {
			return strings.Split(v, ":")
		}
	}
	return []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}
}

// libraryDirs are where a target's shared libraries usually are.
func libraryDirs() []string {
	triplet := map[string]string{"amd64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu"}[runtime.GOARCH]
	return []string{"/lib/" + triplet, "/usr/lib/" + triplet, "/lib64", "/usr/lib64", "/lib", "/usr/lib", "/usr/local/lib"}
}

// inTarget rewrites a uprobe, uretprobe or USDT attach point so that its
// file is the target's; other points, and files under /proc/ (the target's
// own /proc/$container_pid/root/... included), are left as they are. A file
// the target lacks is rewritten to where it would be, and why says so:
// bpftrace then reports it missing, or ignores it where the program's
// config says missing_probes = ignore.
func inTarget(point string, files Files) (out, why string) {
	before, file, after, ok := filePoint(point)
	if !ok {
		return point, ""
	}
	path, found, why := files.Resolve(file)
	if !found {
		why = fmt.Sprintf("%s: %s", point, why)
	}
	return before + path + after, why
}

// filePoint splits a uprobe, uretprobe or USDT attach point into the text
// before its file, the file, and the rest (`@source:line`, `:func` ...),
// quotes kept outside the file. ok is false for other probe types, for
// points that name no file and for files already under /proc/.
func filePoint(point string) (before, file, after string, ok bool) {
	switch program.Provider(point) {
	case "uprobe", "uretprobe", "usdt":
	default:
		return "", "", "", false
	}
	start := strings.Index(point, ":") + 1
	end := -1
	if strings.HasPrefix(point[start:], `"`) {
		if q := strings.Index(point[start+1:], `"`); q >= 0 {
			start, end = start+1, start+1+q
		}
	} else if i := strings.IndexAny(point[start:], ":@"); i > 0 {
		end = start + i
	}
	if end < 0 || end >= len(point) {
		return "", "", "", false // no file, only a probe or function
	}
	file = point[start:end]
	if file == "" || file == "*" || strings.HasPrefix(file, "/proc/") {
		return "", "", "", false
	}
	return point[:start], file, point[end:], true
}
