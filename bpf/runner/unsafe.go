package runner

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/trace-debug/kubectl-trace-debug/bpf/program"
)

// unsafeBuiltins are what bpftrace's --unsafe enables besides probes at raw
// offsets: the runner never lets them ride on the --unsafe it adds.
var unsafeBuiltins = map[string]bool{"system": true, "signal": true, "signal_thread": true, "override": true, "write_user": true}

// cTypeName matches the double-underscore names of C integer types
// (__u64, __be32), which are not bpftrace internals.
var cTypeName = regexp.MustCompile(`^__(?:u|s|be|le)(?:8|16|32|64)$`)

// unsafeReasons lists why p might reach something --unsafe enables, as the
// runner reads it: an unsafe builtin named anywhere the program has code
// (probes, macros, functions, declarations), a bpftrace internal (a
// double-underscore name such as __builtin_safe_mode, which lets code tell
// whether --unsafe is on), and code the runner cannot read from inside the
// tracer (imports, preprocessor lines, which may expand to anything). It
// errs on the side of refusing: a name in a field or a C definition counts.
func unsafeReasons(p *program.Program) []string {
	var why []string
	for _, n := range p.Names() {
		switch {
		case unsafeBuiltins[n]:
			why = append(why, fmt.Sprintf("it names %s()", n))
		case strings.HasPrefix(n, "__") && !cTypeName.MatchString(n):
			why = append(why, fmt.Sprintf("it names the bpftrace internal %s", n))
		}
	}
	for _, d := range p.Directives() {
		if strings.HasPrefix(d, "#!") { // a tool file's interpreter line, which bpftrace skips
			continue
		}
		why = append(why, fmt.Sprintf("its preprocessor line %q may expand to anything", d))
	}
	for _, imp := range p.Imports() {
		if !strings.HasPrefix(imp, "#") {
			why = append(why, fmt.Sprintf("its %q brings in code the runner does not read", imp))
		}
	}
	return why
}

// loosenedPoints lists the attach points, of the program's own, that
// bpftrace takes only with --unsafe or with a mere warning under it, as
// measured on 0.27.1: a uprobe at a raw address or at an offset into a
// function (bpftrace places it even mid-instruction, or in a stripped
// binary where it cannot tell, and an int3 inside an instruction can crash
// the traced process), and a kprobe by address, at an offset, or on a
// function the kernel does not list as traceable (wildcards included,
// whose matches are not known here). Watchpoints need no --unsafe.
func (o ComposeOptions) loosenedPoints(points []string) []string {
	var why []string
	var traceable map[string]bool
	var traceableErr error
	asked := false
	for _, pt := range points {
		switch program.Provider(pt) {
		case "uprobe", "uretprobe":
			_, fn := splitUprobe(pt)
			name, off, hasOff := cutOffset(fn)
			switch {
			case isAddress(name):
				why = append(why, fmt.Sprintf("%s is a uprobe at a raw address, which --unsafe would place without a check that it starts an instruction", pt))
			case hasOff && off != 0:
				why = append(why, fmt.Sprintf("%s is at an offset into a function, not proven to be an instruction boundary (--unsafe would place it mid-instruction too)", pt))
			}
		case "kprobe", "kretprobe":
			fn := pt[strings.LastIndex(pt, ":")+1:]
			name, off, hasOff := cutOffset(fn)
			switch {
			case isAddress(name):
				why = append(why, fmt.Sprintf("%s probes the kernel by address, which bpftrace allows only with --unsafe", pt))
			case hasOff && off != 0:
				why = append(why, fmt.Sprintf("%s is at an offset into a kernel function, which --unsafe would not check", pt))
			case strings.ContainsAny(name, "*?["):
				why = append(why, fmt.Sprintf("%s is a wildcard whose kernel functions --unsafe would not check against the traceable ones", pt))
			default:
				if !asked {
					asked = true
					traceableErr = fmt.Errorf("the kernel's traceable functions are not known")
					if o.TraceableFunctions != nil {
						traceable, traceableErr = o.TraceableFunctions()
					}
				}
				switch {
				case traceableErr != nil:
					why = append(why, fmt.Sprintf("%s cannot be checked against the kernel's traceable functions, which --unsafe would skip (%v)", pt, traceableErr))
				case !traceable[name]:
					why = append(why, fmt.Sprintf("%s is not in the kernel's traceable functions, which --unsafe would attach to anyway", pt))
				}
			}
		}
	}
	return why
}

// cutOffset splits `name+off` (the name's quotes dropped); hasOff is false
// when there is no offset, or it is not a number (then off is -1).
func cutOffset(fn string) (name string, off int64, hasOff bool) {
	i := strings.LastIndexByte(fn, '+')
	if i < 0 {
		return strings.Trim(fn, `"`), 0, false
	}
	name = strings.Trim(fn[:i], `"`)
	n, err := strconv.ParseInt(strings.TrimSpace(fn[i+1:]), 0, 64)
	if err != nil {
		return name, -1, true
	}
	return name, n, true
}

// isAddress reports whether an attach point's function part is a number.
func isAddress(s string) bool {
	_, err := strconv.ParseUint(s, 0, 64)
	return err == nil
}
