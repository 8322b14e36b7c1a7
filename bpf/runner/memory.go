package runner

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ErrMemory means the tracer would not fit under the memory limit.
var ErrMemory = errors.New("not enough memory under the pod's limit")

// Headroom is what a cgroup's memory limit leaves: the tightest of the
// process's cgroup and its ancestors (the pod's cgroup, where the kubelet
// makes one).
type Headroom struct {
	// Cgroup is the directory whose limit is the tightest.
	Cgroup string
	// Limit and Usage are that cgroup's, in bytes.
	Limit, Usage uint64
}

// Free is what is left under the limit.
func (h Headroom) Free() uint64 {
	if h.Usage >= h.Limit {
		return 0
	}
	return h.Limit - h.Usage
}

// unlimited is the value cgroup v1 reports for no limit (page-rounded
// 2^63-1); anything this large is no limit.
const unlimited = 1 << 60

// MemoryHeadroom reads the memory limits of pid's cgroups (v1 memory
// controller or v2) from procRoot, walking up to the root of the mounted
// hierarchy. It returns ok=false when no limit applies or none can be read.
func MemoryHeadroom(procRoot string, pid int) (Headroom, bool, error) {
	dir, v2, err := memoryCgroupDir(procRoot, pid)
	if err != nil || dir == "" {
		return Headroom{}, false, err
	}
	limitFile, usageFile := "memory.limit_in_bytes", "memory.usage_in_bytes"
	if v2 {
		limitFile, usageFile = "memory.max", "memory.current"
	}
	var best Headroom
	found := false
	for d := dir; ; d = filepath.Dir(d) {
		limit, okL := readBytes(filepath.Join(d, limitFile))
		usage, okU := readBytes(filepath.Join(d, usageFile))
		if okL && okU && limit < unlimited {
			h := Headroom{Cgroup: d, Limit: limit, Usage: usage}
			if !found || h.Free() < best.Free() {
				best, found = h, true
			}
		}
		if _, err := os.Stat(filepath.Join(d, "..", limitFile)); err != nil || d == "/" {
			break
		}
	}
	return best, found, nil
}

// memoryCgroupDir finds where pid's memory cgroup is mounted.
func memoryCgroupDir(procRoot string, pid int) (string, bool, error) {
	base := filepath.Join(procRoot, strconv.Itoa(pid))
	cg, err := os.ReadFile(filepath.Join(base, "cgroup"))
	if err != nil {
		return "", false, fmt.Errorf("read cgroups: %w", err)
	}
	var v1Path, v2Path string
	for _, line := range strings.Split(string(cg), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			v2Path = parts[2]
		}
		for _, c := range strings.Split(parts[1], ",") {
			if c == "memory" {
				v1Path = parts[2]
			}
		}
	}
	mi, err := os.Open(filepath.Join(base, "mountinfo"))
	if err != nil {
		return "", false, fmt.Errorf("read mounts: %w", err)
	}
	defer mi.Close()
	sc := bufio.NewScanner(mi)
	for sc.Scan() {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS
		f := strings.Fields(sc.Text())
		sep := -1
		for i, x := range f {
			if x == "-" {
				sep = i
				break
			}
		}
		if sep < 0 || sep+3 >= len(f) || len(f) < 5 {
			continue
		}
		root, mnt, fstype, super := f[3], f[4], f[sep+1], f[sep+3]
		switch {
		case fstype == "cgroup" && v1Path != "" && hasOption(super, "memory"):
			if rel, ok := cgroupRel(v1Path, root); ok {
				return filepath.Join(mnt, rel), false, nil
			}
		case fstype == "cgroup2" && v2Path != "" && v1Path == "":
			if rel, ok := cgroupRel(v2Path, root); ok {
				return filepath.Join(mnt, rel), true, nil
			}
		}
	}
	return "", false, nil
}

func hasOption(opts, want string) bool {
	for _, o := range strings.Split(opts, ",") {
		if o == want {
			return true
		}
	}
	return false
}

// cgroupRel is path relative to a mount of the hierarchy at root.
func cgroupRel(path, root string) (string, bool) {
	if root == "/" {
		return path, true
	}
	if path == root || strings.HasPrefix(path, root+"/") {
		return strings.TrimPrefix(path, root), true
	}
	return "", false
}

func readBytes(path string) (uint64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	s := strings.TrimSpace(string(b))
	if s == "max" {
		return unlimited, true
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil
}

// checkMemory refuses to start an engine whose peak would not fit in what
// the memory limit leaves: the tracer's memory counts against the pod, and
// the pod's processes are what the kernel kills when it runs out.
func (o Options) checkMemory(peak uint64) error {
	pid := o.MemoryPID
	if pid == 0 {
		pid = os.Getpid()
	}
	h, ok, err := MemoryHeadroom(o.ProcRoot, pid)
	if err != nil || !ok || h.Free() >= peak {
		return nil
	}
	if o.Session.IgnoreMemoryLimit {
		o.say("starting anyway (--ignore-memory-limit): the tracer may need %d MiB and the memory limit leaves %d MiB", peak>>20, h.Free()>>20)
		return nil
	}
	alt := ""
	if o.Session.Engine() == "bpftrace" {
		alt = " The native engines need a few MiB: --syscalls counts syscalls, --func traces Go functions."
	}
	return fmt.Errorf("%w: the tracer may need %d MiB at its peak, and the memory limit of cgroup %s (%d MiB, %d MiB in use) leaves %d MiB; "+
		"running it could get the pod's processes killed.%s Pass --ignore-memory-limit to start anyway",
		ErrMemory, peak>>20, h.Cgroup, h.Limit>>20, h.Usage>>20, h.Free()>>20, alt)
}
