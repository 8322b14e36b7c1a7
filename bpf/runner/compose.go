package runner

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"

	"github.com/trace-debug/kubectl-trace-debug/bpf/gofunc"
	"github.com/trace-debug/kubectl-trace-debug/bpf/program"
	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
)

// Scope is the part of the node a pod-scoped trace sees: the processes of
// one PID namespace, less the tracer's own (its mount namespace).
type Scope struct {
	// PIDNamespace is the inode of the target's PID namespace.
	PIDNamespace uint64
	// TracerMountNamespace is the inode of the runner's mount namespace.
	TracerMountNamespace uint64
}

// Predicate is the bpftrace condition that holds for the scope's processes.
// It reads the task's namespaces through BTF, which every bpftrace version
// the runner supports can do. In uprobes, newer bpftrace warns that the
// kernel's value and the literal are in different address spaces (harmless:
// both are plain integers); the runner drops those warnings by scopeMarker.
func (s Scope) Predicate() string {
	return fmt.Sprintf("%s->pid_ns_for_children->ns.inum == %d && %s->mnt_ns->ns.inum != %d",
		scopeMarker, s.PIDNamespace, scopeMarker, s.TracerMountNamespace)
}

// scopeMarker starts each comparison of the scope predicate.
const scopeMarker = "curtask->nsproxy"

// Binaries answers what the rewrite of Go return probes needs to know about
// executables; the runner reads the files, tests pass fakes.
type Binaries interface {
	// IsGo reports whether path is a Go executable.
	IsGo(path string) bool
	// Resolve locates the functions matching patterns and their RETs.
	Resolve(path string, patterns []string) ([]gofunc.Func, error)
}

// Composition is the bpftrace program the runner runs for a session.
type Composition struct {
	// Program is the text given to bpftrace.
	Program string
	// Args are extra bpftrace arguments (--unsafe, for stripped Go
	// executables' return probes placed by file offset).
	Args []string
	// DumpProbe is true when SIGUSR1 makes bpftrace print every map and then
	// Marker, without detaching its probes first.
	DumpProbe bool
	// Marker is the line that follows the maps the dump probe prints.
	Marker string
	// Notes are messages for the user about what was changed and why.
	Notes []string
	// IgnoresMissingProbes: the program's config lets bpftrace drop probes
	// it cannot attach, and with them the maps only they use.
	IgnoresMissingProbes bool
	// Tables are maps the runner fills once bpftrace has made them, before
	// it reports the probes attached (the syscall wildcard's names).
	Tables []Table
	// OwnOffsetPoints are the runner's own uprobes at raw offsets (a
	// stripped Go executable's return probes) as bpftrace names them in
	// its warnings: `uprobe:PATH:DECIMAL`.
	OwnOffsetPoints []string
	// Added counts the attach points the runner added (the dump probe, END
	// probes' dump signal, the syscall name map's BEGIN and END), which
	// bpftrace's own probe count includes.
	Added int
}

// ComposeOptions say how to compose.
type ComposeOptions struct {
	Features Features
	// Scope narrows process-context probes to the pod; nil traces node-wide.
	Scope *Scope
	// UnsafeUretprobe leaves uretprobes on Go executables as they are.
	UnsafeUretprobe bool
	// JSON is bpftrace's output format (the dump prints no blank lines then).
	JSON bool
	// Marker is the line the dump probe prints after the maps.
	Marker string
	// MarkMaps prints protocol.MapsLine before the maps printed at the
	// end, whichever way the program ends (see markFinalMaps).
	MarkMaps bool
	// OmitMaps are maps the dump probe does not print: bpftrace finds them
	// undefined when it drops the probes that use them (missing_probes =
	// ignore), see withoutUndefinedMaps.
	OmitMaps map[string]bool
	// Syscalls maps syscall numbers to the names of their own tracepoints
	// (SyscallTracepoints): with it, syscall wildcards become one
	// raw_syscalls probe where they can.
	Syscalls map[uint32]string
	// Files, when set, makes the files of uprobe, uretprobe and USDT
	// attach points the target's (see inTarget).
	Files Files
	// TraceableFunctions lists the kernel functions kprobes may attach
	// to; it is asked only when the runner gives bpftrace --unsafe and
	// the program has kprobes (nil: not known).
	TraceableFunctions func() (map[string]bool, error)
}

// unscopedProviders fire outside any process of the target: bpftrace's own
// events and timers.
var unscopedProviders = map[string]bool{
	"begin": true, "end": true, "interval": true, "self": true, "iter": true, "test": true, "bench": true, "benchmark": true,
}

// Compose rewrites src, a program whose $container_pid is already
// substituted: Go return probes become uprobes at each RET, process-context
// probes are scoped, and a dump probe prints the maps on demand. A program
// whose top level cannot be read is passed on unchanged, with a note saying
// so, and bpftrace reports the syntax error itself.
func Compose(src string, o ComposeOptions, bins Binaries) (Composition, error) {
	c := Composition{Program: src, Marker: o.Marker}
	p, err := program.Parse(src)
	if err != nil {
		// Most likely a syntax error, which bpftrace explains better.
		c.Notes = append(c.Notes, fmt.Sprintf("%v; bpftrace gets the program as written: not scoped to the pod, maps printed after detaching", err))
		return c, nil
	}
	c.IgnoresMissingProbes = p.Config("missing_probes") == "ignore"
	var userPoints []string // the program's own, before the runner adds any
	for _, pr := range p.Probes() {
		userPoints = append(userPoints, pr.Points...)
	}
	for _, pr := range p.Probes() {
		if o.Features.SyscallRewrite && len(pr.Points) == 1 {
			from := pr.Points[0]
			if names, table, why := rewriteSyscallWildcard(pr, o.Syscalls); names != nil {
				c.Notes = append(c.Notes, fmt.Sprintf("%s runs as one probe, %s, with the same output", from, pr.Points[0]))
				if !slices.ContainsFunc(c.Tables, func(t Table) bool { return t.Map == table.Map }) {
					p.Prepend(names[0]) // the map's probes, once for each map
					p.Append(names[1])
					c.Added += 2
					c.Tables = append(c.Tables, *table)
				}
			} else if why != "" {
				c.Notes = append(c.Notes, fmt.Sprintf("%s runs as written, a probe per syscall: %s", from, why))
			}
		}
		if o.Features.SignalProbes && len(pr.Points) > 0 {
			c.Added += endProbes(pr.Points)
		}
		copies, err := o.rewriteProbe(pr, bins, &c)
		if err != nil {
			return c, err
		}
		if len(copies) != 1 || copies[0] != pr {
			p.Replace(pr, copies...) // none: the probe is dropped
		}
	}
	if hasArg(c.Args, "--unsafe") {
		why := append(unsafeReasons(p), o.loosenedPoints(userPoints)...)
		if len(why) > 0 {
			return c, fmt.Errorf("%w: placing a stripped Go executable's return probes needs bpftrace's --unsafe, and the runner never lets --unsafe reach anything else: %s. "+
				"Probe an executable with symbols, drop those parts, or use --func", ErrUnsafeRide, strings.Join(why, "; "))
		}
	}
	if o.MarkMaps {
		c.Added += o.markFinalMaps(p)
	}
	if o.Features.SignalProbes {
		o.addDumpProbe(p, c.Tables)
		c.DumpProbe = true
		c.Added++
	}
	c.Program = p.String()
	return c, nil
}

// rewriteProbe returns the probes that stand for pr: pr itself, or copies,
// one per kind of attach point it mixes (unscoped, scoped, Go return).
func (o ComposeOptions) rewriteProbe(pr *program.Probe, bins Binaries, c *Composition) ([]*program.Probe, error) {
	var unscoped, scoped, goRet []string
	if o.Files != nil {
		var points []string
		for _, pt := range pr.Points {
			in, why := inTarget(pt, o.Files)
			switch {
			case why != "" && c.IgnoresMissingProbes:
				c.Notes = append(c.Notes, why+"; skipped (missing_probes = ignore)")
				continue
			case why != "":
				c.Notes = append(c.Notes, why)
			}
			points = append(points, in)
		}
		if len(points) == 0 {
			return nil, nil // every file it names is missing, and the program says to skip them
		}
		if strings.Join(points, "\x00") != strings.Join(pr.Points, "\x00") {
			pr.SetPoints(points)
		}
	}
	for _, pt := range pr.Points {
		prov := program.Provider(pt)
		switch {
		case unscopedProviders[prov]:
			unscoped = append(unscoped, pt)
		case prov == "uretprobe" && !o.UnsafeUretprobe && isGoUretprobe(pt, bins):
			goRet = append(goRet, pt)
		default:
			scoped = append(scoped, pt)
		}
	}
	if len(goRet) > 0 {
		points, err := o.goReturnPoints(goRet, bins, c)
		if err != nil {
			return nil, err
		}
		goRet = points
	}
	var out []*program.Probe
	if len(unscoped) > 0 {
		out = append(out, o.withEndOnDemand(pr, unscoped))
	}
	if len(scoped) > 0 {
		cp := pr
		if len(scoped) != len(pr.Points) {
			cp = pr.Copy(scoped)
		}
		o.scope(cp)
		out = append(out, cp)
	}
	if len(goRet) > 0 {
		cp := pr.Copy(goRet)
		cp.ReplaceIdent("retval", returnRegister())
		o.scope(cp)
		out = append(out, cp)
	}
	return out, nil
}

// withEndOnDemand returns pr for its unscoped points; an END probe also runs
// on the dump signal, before the maps are printed, as it does at exit.
func (o ComposeOptions) withEndOnDemand(pr *program.Probe, points []string) *program.Probe {
	cp := pr
	if len(points) != len(pr.Points) {
		cp = pr.Copy(points)
	}
	if !o.Features.SignalProbes {
		return cp
	}
	if endProbes(points) > 0 {
		cp.SetPoints(append(append([]string{}, points...), "self:signal:SIGUSR1"))
	}
	return cp
}

// endProbes is 1 when points include END (it gets the dump signal too).
func endProbes(points []string) int {
	for _, pt := range points {
		if program.Provider(pt) == "end" {
			return 1
		}
	}
	return 0
}

func (o ComposeOptions) scope(pr *program.Probe) {
	if o.Scope != nil {
		pr.AndPredicate(o.Scope.Predicate())
	}
}

// markFinalMaps makes the program print protocol.MapsLine right before
// the maps it prints at its end, however it ends: on the dump signal, at
// SIGINT, or by its own exit(). The line is the last thing its last END
// probe does (the user's, of which bpftrace 0.17 allows only one, or one
// the runner adds; on the dump signal too, where END runs before the dump
// probe). An END that shares its body with other attach points
// (`END, interval:s:1 { ... }`) is split off first, so the line is printed
// at the end only. It returns how many attach points it added.
func (o ComposeOptions) markFinalMaps(p *program.Program) int {
	mark := fmt.Sprintf("printf(\"%s\\n\");", protocol.MapsLine)
	var last *program.Probe
	for _, pr := range p.Probes() {
		if endProbes(pr.Points) > 0 {
			last = pr
		}
	}
	if last != nil {
		var end, others []string
		for _, pt := range last.Points {
			if program.Provider(pt) == "end" || pt == "self:signal:SIGUSR1" {
				end = append(end, pt)
			} else {
				others = append(others, pt)
			}
		}
		if len(others) > 0 {
			endOnly := last.Copy(end)
			p.Replace(last, last.Copy(others), endOnly)
			last = endOnly
		}
		last.AppendStatement(mark)
		return 0
	}
	end := &program.Probe{Points: []string{"END"}, Body: "{ " + mark + " }"}
	if o.Features.SignalProbes {
		end.Points = append(end.Points, "self:signal:SIGUSR1")
	}
	p.Append(end)
	return len(end.Points)
}

// addDumpProbe appends the probe that prints every map and the marker
// (a group's maps line comes just before, from the END probe).
// The runner's own tables are not printed.
func (o ComposeOptions) addDumpProbe(p *program.Program, tables []Table) {
	var b strings.Builder
	b.WriteString("{ ")
	var maps []string
	for _, m := range p.Maps() {
		if !o.OmitMaps[m] && !slices.ContainsFunc(tables, func(t Table) bool { return t.Map == m }) {
			maps = append(maps, m)
		}
	}
	if len(maps) > 0 && !o.JSON {
		b.WriteString(`printf("\n\n"); `)
	}
	for _, m := range maps {
		fmt.Fprintf(&b, "print(%s); ", m)
	}
	fmt.Fprintf(&b, "printf(\"%s\\n\"); exit(); }", o.Marker)
	p.Append(&program.Probe{Points: []string{"self:signal:SIGUSR1"}, Body: b.String()})
}

// ErrUnsafeRide means the program has parts that the --unsafe the runner
// gives bpftrace for its own probes would let through.
var ErrUnsafeRide = errors.New("refusing what would ride on the runner's --unsafe")

// ErrGoReturnProbe means a uretprobe on a Go function can be neither run
// safely nor rewritten.
var ErrGoReturnProbe = errors.New("refusing a return probe on a Go function")

// goReturnPoints turns `uretprobe:PATH:FUNC` points into uprobes at every RET
// of the functions: Go moves goroutine stacks, so a return probe, which
// rewrites the return address on the stack, crashes the program (SIGILL).
func (o ComposeOptions) goReturnPoints(points []string, bins Binaries, c *Composition) ([]string, error) {
	var out []string
	for _, pt := range points {
		path, fn := splitUprobe(pt)
		if !o.Features.OffsetUprobes {
			return nil, goReturnRefusal(pt, fn, fmt.Sprintf("this bpftrace (%s) cannot place uprobes at an offset into a function, so the runner cannot rewrite it", versionOrUnknown(o.Features)))
		}
		funcs, err := bins.Resolve(path, []string{fn})
		if err != nil {
			return nil, goReturnRefusal(pt, fn, err.Error())
		}
		for _, f := range funcs {
			for _, r := range f.Returns {
				if f.Symbol {
					out = append(out, fmt.Sprintf("uprobe:%s:%q+0x%x", path, f.Name, r-f.Entry))
				} else {
					out = append(out, fmt.Sprintf("uprobe:%s:0x%x", path, r))
					c.OwnOffsetPoints = append(c.OwnOffsetPoints, fmt.Sprintf("uprobe:%s:%d", path, r))
				}
			}
			if !f.Symbol && !hasArg(c.Args, "--unsafe") {
				c.Args = append(c.Args, "--unsafe")
				c.Notes = append(c.Notes, fmt.Sprintf("%s is stripped: its return probes are placed by file offset at instruction boundaries the runner decoded, which bpftrace accepts only with --unsafe", path))
			}
			c.Notes = append(c.Notes, fmt.Sprintf("uretprobe on Go function %s rewritten as %d uprobes at its RET instructions (retval is the first result register)", f.Name, len(f.Returns)))
		}
	}
	return out, nil
}

func goReturnRefusal(point, fn, why string) error {
	return fmt.Errorf("%w (%s): a return probe rewrites the return address on the goroutine's stack, and Go moves its stacks, so the traced program crashes (SIGILL); %s. "+
		"Probe the entry with `uprobe:` instead, or use the native engine (--func %s); pass --unsafe-uretprobe to insist",
		ErrGoReturnProbe, point, why, strings.Trim(fn, `"`))
}

func versionOrUnknown(f Features) string {
	if f.Version == "" {
		return "version unknown"
	}
	return f.Version
}

// isGoUretprobe reports whether a uretprobe point names an absolute path to
// a Go executable (a library name is resolved by bpftrace and is not Go).
func isGoUretprobe(point string, bins Binaries) bool {
	path, _ := splitUprobe(point)
	return strings.HasPrefix(path, "/") && bins.IsGo(path)
}

// splitUprobe splits `uretprobe:PATH:FUNC` into PATH and FUNC (quotes kept
// off FUNC).
func splitUprobe(point string) (path, fn string) {
	_, rest, _ := strings.Cut(point, ":")
	i := strings.LastIndex(rest, ":")
	if q := strings.Index(rest, `"`); q >= 0 && q < i {
		i = strings.LastIndex(rest[:q], ":")
	}
	if i < 0 {
		return "", rest
	}
	return strings.Trim(rest[:i], `"`), strings.Trim(rest[i+1:], `"`)
}

// returnRegister is where Go's register ABI leaves the first result.
func returnRegister() string {
	if runtime.GOARCH == "arm64" {
		return `reg("r0")`
	}
	return `reg("ax")`
}

func hasArg(args []string, a string) bool {
	for _, x := range args {
		if x == a {
			return true
		}
	}
	return false
}
