package runner

import (
	"debug/buildinfo"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// ErrUnsafeProgram means the program would harm its target.
var ErrUnsafeProgram = errors.New("unsafe program")

// uretprobePoint matches a uretprobe attach point, `uretprobe:PATH:FUNC` or
// `ur:PATH:FUNC` (FUNC possibly quoted), capturing PATH and FUNC.
var uretprobePoint = regexp.MustCompile(`(?m)(?:^|[\s,{};/])(?:uretprobe|ur):([^:\s,{]+):("[^"]*"|[^\s,{/]+)`)

// GoUretprobes returns the "PATH:FUNC" attach points of program's uretprobes
// whose binary is a Go executable. A return probe on a Go function crashes
// the program (SIGILL): Go moves and walks goroutine stacks, and the probe
// rewrites the return address on the stack. Paths that cannot be read are
// left to bpftrace, which reports them.
func GoUretprobes(program string) []string {
	var found []string
	for _, m := range uretprobePoint.FindAllStringSubmatch(program, -1) {
		path, fn := m[1], strings.Trim(m[2], `"`)
		if !strings.HasPrefix(path, "/") {
			continue // a library name: resolved by bpftrace, not a Go executable
		}
		if _, err := buildinfo.ReadFile(path); err == nil {
			found = append(found, path+":"+fn)
		}
	}
	return found
}

// CheckGoUretprobes refuses a program with uretprobes on Go executables,
// naming the safe alternatives, unless unsafe is set.
func CheckGoUretprobes(program string, unsafe bool) error {
	points := GoUretprobes(program)
	if len(points) == 0 || unsafe {
		return nil
	}
	funcs := make([]string, len(points))
	for i, p := range points {
		funcs[i] = p[strings.LastIndex(p, ":")+1:]
	}
	return fmt.Errorf("%w: refusing uretprobe on a Go executable (%s): a return probe rewrites the return address on the goroutine's stack, "+
		"and Go moves its stacks, so the traced program crashes (SIGILL). Probe the entry with `uprobe:` instead "+
		"(Go-safe return values come with the native engine: --func %s); pass --unsafe-uretprobe to insist",
		ErrUnsafeProgram, strings.Join(points, ", "), strings.Join(funcs, " --func "))
}
