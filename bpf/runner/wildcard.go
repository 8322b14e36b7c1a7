package runner

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/trace-debug/kubectl-trace-debug/bpf/program"
	"github.com/trace-debug/kubectl-trace-debug/bpf/syscalls"
)

// The seed's first program, `tracepoint:syscalls:sys_enter_* { @[probe] =
// count(); }`, attaches a probe to each of some 360 tracepoints: bpftrace
// compiles a program for each (0.5 GB, seconds) and detaches them one by one
// (tens of seconds). tracepoint:raw_syscalls:sys_enter sees the same events
// in one probe, with the syscall's number. The runner rewrites such a
// wildcard into it when nothing the probe uses needs the per-syscall
// tracepoints (their arguments by name): `probe` becomes the name of the
// syscall's own tracepoint, found from the number, and syscalls that have no
// tracepoint of their own are not counted, as in the original.

// syscallWildcard matches the wildcards the runner rewrites.
var syscallWildcard = regexp.MustCompile(`^(?:tracepoint|t):syscalls:sys_(enter|exit)_\*$`)

// syscallNumberArg is the syscall's number in a per-syscall tracepoint's
// arguments; raw_syscalls calls it id.
var syscallNumberArg = regexp.MustCompile(`\bargs\s*(?:\.|->)\s*__syscall_nr\b`)

// argsUse finds each use of the args builtin and the field it reads.
var argsUse = regexp.MustCompile(`\bargs\b\s*(?:(?:\.|->)\s*([A-Za-z_][A-Za-z0-9_]*))?`)

// probeVar holds the rewritten probe's name in its body.
const probeVar = "$__trace_debug_probe"

// namesMap is the runner's map of syscall numbers to the names of their
// tracepoints, one for sys_enter and one for sys_exit (kind), cleared in END so bpftrace does not print it. The program
// only declares it, with one placeholder entry as long as any name; the
// runner fills it from outside once bpftrace has made it (a Table), before
// it reports the probes attached. Measured on 0.27.1, compiling: a
// comparison per syscall 4.1 s and 340 MB, 360 assignments in BEGIN 0.8 s
// and 180 MB, the placeholder 0.47 s and 162 MB (one probe alone: 0.46 s,
// 160 MB).
func namesMap(kind string) string { return "@__td_" + kind }

// placeholderKey is the namesMap entry that gives its values their size.
const placeholderKey = -1

// rewriteSyscallWildcard rewrites pr in place when it is a syscall wildcard
// the raw tracepoint can stand for, and returns the probes that fill and
// clear the name map it reads, and the table the runner fills that map with;
// it says why not otherwise ("" when pr is no
// such wildcard). tracepoints maps syscall numbers to the names of their own
// tracepoints (sys_enter_NAME, sys_exit_NAME).
func rewriteSyscallWildcard(pr *program.Probe, tracepoints map[uint32]string) (names []*program.Probe, table *Table, why string) {
	if len(pr.Points) != 1 {
		return nil, nil, ""
	}
	m := syscallWildcard.FindStringSubmatch(strings.TrimSpace(pr.Points[0]))
	if m == nil {
		return nil, nil, ""
	}
	kind := m[1]
	if len(tracepoints) == 0 {
		return nil, nil, "this kernel's syscall tracepoints do not all match syscall numbers the runner knows"
	}
	for _, u := range argsUse.FindAllStringSubmatch(pr.Predicate+" "+pr.Body, -1) {
		if u[1] != "__syscall_nr" && !(kind == "exit" && u[1] == "ret") {
			return nil, nil, fmt.Sprintf("it reads args%s, which only the per-syscall tracepoints have", strings.TrimPrefix(u[0], "args"))
		}
	}
	if program.Uses(pr.Predicate, "probe") {
		return nil, nil, "its predicate uses probe"
	}
	pr.SetPoints([]string{"tracepoint:raw_syscalls:sys_" + kind})
	pr.Predicate = syscallNumberArg.ReplaceAllString(pr.Predicate, "args.id")
	body := &program.Probe{Body: syscallNumberArg.ReplaceAllString(pr.Body, "args.id")}
	body.ReplaceIdent("probe", probeVar)
	pr.Body = fmt.Sprintf("{ %s = %s[args.id]; if (%s != \"\") %s }", probeVar, namesMap(kind), probeVar, body.Body)

	longest := 0
	entries := map[int64]string{}
	for id, tp := range tracepoints {
		entries[int64(id)] = fmt.Sprintf("tracepoint:syscalls:sys_%s_%s", kind, tp)
		longest = max(longest, len(entries[int64(id)]))
	}
	return []*program.Probe{
		{Points: []string{"BEGIN"}, Body: fmt.Sprintf("{ %s[%d] = %q; }", namesMap(kind), placeholderKey, strings.Repeat("x", longest))},
		{Points: []string{"END"}, Body: fmt.Sprintf("{ clear(%s); }", namesMap(kind))},
	}, &Table{Map: namesMap(kind), Entries: entries}, ""
}

// syscallAliases are syscalls whose tracepoint is named after the kernel
// function that implements them rather than the UAPI name (besides newX for
// X, which syscallTracepoints tries first).
var syscallAliases = map[string]string{"umount2": "umount", "sendfile": "sendfile64"}

// SyscallTracepoints maps each syscall number of this architecture to the
// name of its own tracepoints in eventsDir (tracefs's events), or says why
// it cannot: every sys_enter_NAME tracepoint must be exactly one number's,
// or a rewrite would count differently from the original.
func SyscallTracepoints(eventsDir string) (map[uint32]string, error) {
	entries, err := os.ReadDir(filepath.Join(eventsDir, "syscalls"))
	if err != nil {
		return nil, fmt.Errorf("read syscall tracepoints: %w", err)
	}
	unclaimed := map[string]bool{}
	for _, e := range entries {
		if n, ok := strings.CutPrefix(e.Name(), "sys_enter_"); ok {
			unclaimed[n] = true
		}
	}
	all := maps.Clone(unclaimed)
	out := map[uint32]string{}
	for id, name := range syscalls.Names() {
		for _, tp := range []string{name, "new" + name, syscallAliases[name]} {
			if tp != "" && all[tp] {
				if !unclaimed[tp] {
					return nil, fmt.Errorf("tracepoint sys_enter_%s stands for two syscall numbers", tp)
				}
				out[id] = tp
				delete(unclaimed, tp)
				break
			}
		}
	}
	if len(unclaimed) > 0 {
		return nil, fmt.Errorf("no syscall number the runner knows has the tracepoints %s", strings.Join(slices.Sorted(maps.Keys(unclaimed)), ", "))
	}
	return out, nil
}
