package runner

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// ErrTargetNotFound means no process of the target container could be found.
var ErrTargetNotFound = errors.New("target process not found")

// FindTargetPID returns the PID (in procRoot's namespace) of the target
// container's main process. With a per-container PID namespace that is PID 1;
// when the pod shares one namespace (shareProcessNamespace, hostPID) it is the
// oldest process whose cgroup names containerID.
func FindTargetPID(procRoot, containerID string, sharedPID bool) (int, error) {
	if containerID != "" {
		pids, err := pidsInContainer(procRoot, containerID)
		if err != nil {
			return 0, err
		}
		if pid := mainPID(procRoot, pids); pid > 0 {
			return pid, nil
		}
	}
	if sharedPID {
		return 0, fmt.Errorf("%w: no process has container %q in its cgroup (the pod shares its PID namespace, so PID 1 is not the target)", ErrTargetNotFound, shortID(containerID))
	}
	if _, err := os.Stat(filepath.Join(procRoot, "1")); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrTargetNotFound, err)
	}
	return 1, nil
}

// pidsInContainer lists the processes whose cgroup path contains containerID.
func pidsInContainer(procRoot, containerID string) ([]int, error) {
	entries, err := os.ReadDir(procRoot)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", procRoot, err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cg, err := os.ReadFile(filepath.Join(procRoot, e.Name(), "cgroup"))
		if err != nil {
			continue // the process exited meanwhile
		}
		if strings.Contains(string(cg), containerID) {
			pids = append(pids, pid)
		}
	}
	sort.Ints(pids)
	return pids, nil
}

// mainPID picks, among pids, the first whose parent is not among them: the
// container's init process. It returns 0 when pids is empty.
func mainPID(procRoot string, pids []int) int {
	in := make(map[int]bool, len(pids))
	for _, p := range pids {
		in[p] = true
	}
	for _, p := range pids {
		if !in[parentPID(procRoot, p)] {
			return p
		}
	}
	if len(pids) > 0 {
		return pids[0]
	}
	return 0
}

func parentPID(procRoot string, pid int) int {
	b, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "status"))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "PPid:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return 0
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
