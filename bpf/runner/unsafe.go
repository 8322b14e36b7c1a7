package runner

import (
	"fmt"
	"regexp"
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
		why = append(why, fmt.Sprintf("its preprocessor line %q may expand to anything", d))
	}
	for _, imp := range p.Imports() {
		if !strings.HasPrefix(imp, "#") {
			why = append(why, fmt.Sprintf("its %q brings in code the runner does not read", imp))
		}
	}
	return why
}
