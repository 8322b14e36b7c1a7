// Package program reads the top level of a bpftrace program — its probes with
// their attach points, predicates and bodies, and the maps it uses — and
// writes it back with changes. The runner uses it to scope probes to the
// target pod, to turn Go return probes into uprobes at each RET, and to add
// the probe that prints the maps on demand. It is pure: no I/O, no bpftrace.
//
// It does not parse expressions: it finds where things start and end, the way
// bpftrace's own lexer does (strings, character literals, comments, balanced
// braces), and leaves everything else as written.
//
// Shared: the client (debug/) and the runner both use it; it links no eBPF
// and no Kubernetes code (boundary_test.go keeps it so).
package program

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// ErrSyntax means the top level of the program could not be read. bpftrace
// would reject such a program too; its own message is better, so callers may
// hand the program to bpftrace unchanged.
var ErrSyntax = errors.New("cannot read the program")

// Probe is one probe of a program: attach points, optional predicate, body.
type Probe struct {
	// Points are the attach points as written, e.g. `uprobe:/bin/bash:readline`.
	Points []string
	// Predicate is the filter between the slashes, trimmed; "" when there is none.
	Predicate string
	// Body is the action block, braces included.
	Body string

	orig    string // the probe's text as written, emitted while unchanged
	at      int    // where orig starts in the parsed source
	changed bool
}

// Program is a parsed bpftrace program.
type Program struct {
	parts []part
	decls []decl
}

// decl is a top-level part of a program other than a probe, as written.
type decl struct {
	kind declKind
	text string
	at   int // where text starts in the parsed source
}

// declKind tells what a top-level declaration is.
type declKind int

const (
	declDirective declKind = iota // #include, #define, ...
	declConfig
	declType // struct, union, enum, typedef
	declMacro
	declFunc
	declImport
	declLet
)

// part is either text kept as written or a probe.
type part struct {
	text  string
	probe *Probe
}

// Parse reads src's top level. Preprocessor lines, config blocks, C type
// definitions, macros, functions, imports and map declarations are kept as
// written; probes are parsed.
func Parse(src string) (*Program, error) {
	p := &Program{}
	l := lexer{src: src}
	keptFrom := 0
	for {
		l.skipSpace()
		if l.eof() {
			break
		}
		start := l.i
		kind, err := l.declaration()
		if err != nil {
			return nil, err
		}
		switch {
		case kind >= 0:
			p.decls = append(p.decls, decl{kind: kind, text: src[start:l.i], at: start})
		default:
			probe, err := l.probe()
			if err != nil {
				return nil, err
			}
			if start > keptFrom {
				p.parts = append(p.parts, part{text: src[keptFrom:start]})
			}
			probe.orig, probe.at = src[start:l.i], start
			p.parts = append(p.parts, part{probe: probe})
			keptFrom = l.i
		}
	}
	if keptFrom < len(src) {
		p.parts = append(p.parts, part{text: src[keptFrom:]})
	}
	return p, nil
}

// Probes returns the program's probes in order; changes made to them show in
// String.
func (p *Program) Probes() []*Probe {
	var out []*Probe
	for _, pt := range p.parts {
		if pt.probe != nil {
			out = append(out, pt.probe)
		}
	}
	return out
}

// Maps returns the names of the maps the program uses (`@name`, and `@` for
// the anonymous map), sorted as bpftrace prints them at exit. A macro's
// `@name` is its parameter, not a map (bpftrace 0.27 passes maps into
// macros), so macro definitions are not read.
func (p *Program) Maps() []string {
	seen := map[string]bool{}
	add := func(src string) {
		words(src, true, func(i, j int) {
			if src[i] == '@' {
				seen[src[i:j]] = true
			}
		})
	}
	for _, pt := range p.parts {
		if pt.probe != nil {
			add(pt.probe.Predicate)
			add(pt.probe.Body)
		}
	}
	for _, d := range p.decls {
		if d.kind != declMacro {
			add(d.text)
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// Names returns every identifier the program may run as code, each once:
// the words of probe predicates and bodies and of every top-level
// declaration (macros, functions, preprocessor lines, C definitions,
// configuration), and attach points of a probe type it does not know. It
// errs on the side of finding too much: fields count, only double-quoted
// strings and comments are skipped (as bpftrace's own lexer does), and
// `$variables` and `@maps` are not identifiers.
func (p *Program) Names() []string {
	seen := map[string]bool{}
	add := func(src string) {
		words(src, false, func(i, j int) {
			if c := src[i]; c != '$' && c != '@' && !(c >= '0' && c <= '9') {
				seen[src[i:j]] = true
			}
		})
	}
	for _, pt := range p.parts {
		if pt.probe == nil {
			continue
		}
		for _, point := range pt.probe.Points {
			if !knownProviders[Provider(point)] {
				add(point)
			}
		}
		add(pt.probe.Predicate)
		add(pt.probe.Body)
	}
	for _, d := range p.decls {
		add(d.text)
	}
	return slices.Sorted(maps.Keys(seen))
}

// Imports returns the program's import statements and #include lines, as
// written: code the program brings in from other files.
func (p *Program) Imports() []string {
	var out []string
	for _, d := range p.decls {
		text := strings.TrimSpace(d.text)
		if d.kind == declImport || d.kind == declDirective && includeRE.MatchString(text) {
			out = append(out, text)
		}
	}
	return out
}

// Directives returns the program's preprocessor lines, as written.
func (p *Program) Directives() []string {
	var out []string
	for _, d := range p.decls {
		if d.kind == declDirective {
			out = append(out, strings.TrimSpace(d.text))
		}
	}
	return out
}

var includeRE = regexp.MustCompile(`^#\s*include`)

// Config returns the value the program's config block gives key (e.g.
// missing_probes: "ignore"), or "".
func (p *Program) Config(key string) string {
	re := regexp.MustCompile(`\b` + regexp.QuoteMeta(key) + `\s*=\s*"?([A-Za-z0-9_]+)`)
	for _, d := range p.decls {
		if d.kind != declConfig {
			continue
		}
		if m := re.FindStringSubmatch(d.text); m != nil {
			return m[1]
		}
	}
	return ""
}

// Replace puts probes in place of old (none removes it).
func (p *Program) Replace(old *Probe, probes ...*Probe) {
	for i, pt := range p.parts {
		if pt.probe != old {
			continue
		}
		repl := make([]part, 0, len(probes))
		for j, np := range probes {
			np.changed = np.changed || np != old
			if j > 0 {
				repl = append(repl, part{text: "\n"})
			}
			repl = append(repl, part{probe: np})
		}
		p.parts = append(p.parts[:i], append(repl, p.parts[i+1:]...)...)
		return
	}
}

// Prepend adds a probe at the start of the program (after its
// declarations, which bpftrace wants first).
func (p *Program) Prepend(probe *Probe) {
	probe.changed = true
	for i, pt := range p.parts {
		if pt.probe != nil {
			p.parts = append(p.parts[:i], append([]part{{probe: probe}, {text: "\n"}}, p.parts[i:]...)...)
			return
		}
	}
	p.Append(probe)
}

// Append adds a probe at the end of the program.
func (p *Program) Append(probe *Probe) {
	probe.changed = true
	p.parts = append(p.parts, part{text: "\n"}, part{probe: probe})
}

// String writes the program back: unchanged probes and everything around
// them as written.
func (p *Program) String() string {
	var b strings.Builder
	for _, pt := range p.parts {
		if pt.probe == nil {
			b.WriteString(pt.text)
			continue
		}
		b.WriteString(pt.probe.String())
	}
	return b.String()
}

// String writes the probe: as written when unchanged.
func (pr *Probe) String() string {
	if !pr.changed && pr.orig != "" {
		return pr.orig
	}
	s := strings.Join(pr.Points, ", ")
	if pr.Predicate != "" {
		s += " /" + pr.Predicate + "/"
	}
	return s + " " + pr.Body
}

// Copy returns a copy of pr with other attach points.
func (pr *Probe) Copy(points []string) *Probe {
	return &Probe{Points: points, Predicate: pr.Predicate, Body: pr.Body, changed: true}
}

// AndPredicate narrows the probe to events for which cond holds as well.
func (pr *Probe) AndPredicate(cond string) {
	if pr.Predicate == "" {
		pr.Predicate = cond
	} else {
		pr.Predicate = "(" + cond + ") && (" + pr.Predicate + ")"
	}
	pr.changed = true
}

// AppendStatement adds stmt, a whole statement, at the end of the probe's
// body: after everything the body does, off any comment it ends with.
func (pr *Probe) AppendStatement(stmt string) {
	end := strings.LastIndexByte(pr.Body, '}')
	if end < 0 {
		return
	}
	l := &lexer{src: pr.Body[:end]}
	last := -1 // the body's last character of code
	for l.skipSpace(); !l.eof(); l.skipSpace() {
		if c := l.peek(); c == '"' {
			l.skipQuoted(c)
		} else {
			l.i++
		}
		last = l.i - 1
	}
	sep := ";"
	if last < 0 || strings.ContainsRune(";{}", rune(pr.Body[last])) {
		sep = ""
	}
	pr.Body = pr.Body[:last+1] + sep + pr.Body[last+1:end] + "\n" + stmt + "\n}" + pr.Body[end+1:]
	pr.changed = true
}

// SetPoints replaces the attach points.
func (pr *Probe) SetPoints(points []string) { pr.Points, pr.changed = points, true }

// ReplaceIdent replaces every use of the identifier name in the predicate
// and body (not in strings or comments, not as part of a longer name, a
// $variable, an @map or a field) with repl, and reports whether it found any.
func (pr *Probe) ReplaceIdent(name, repl string) bool {
	pred, n1 := replaceIdent(pr.Predicate, name, repl)
	body, n2 := replaceIdent(pr.Body, name, repl)
	if n1+n2 == 0 {
		return false
	}
	pr.Predicate, pr.Body, pr.changed = pred, body, true
	return true
}

// Uses reports whether s uses the identifier name as ReplaceIdent finds it.
func Uses(s, name string) bool {
	_, n := replaceIdent(s, name, name)
	return n > 0
}

// Provider returns an attach point's probe type, lowercased and with
// bpftrace's short forms spelled out: `t:syscalls:x` is "tracepoint", BEGIN
// is "begin".
func Provider(point string) string {
	prov, _, _ := strings.Cut(point, ":")
	prov = strings.ToLower(strings.TrimSpace(prov))
	if long, ok := shortProviders[prov]; ok {
		return long
	}
	return prov
}

// knownProviders are the probe types whose attach points name functions,
// files and events rather than code.
var knownProviders = map[string]bool{
	"begin": true, "end": true, "tracepoint": true, "kprobe": true, "kretprobe": true, "uprobe": true,
	"uretprobe": true, "usdt": true, "profile": true, "interval": true, "software": true, "hardware": true,
	"watchpoint": true, "asyncwatchpoint": true, "fentry": true, "fexit": true, "rawtracepoint": true,
	"iter": true, "self": true, "test": true, "bench": true, "benchmark": true,
}

var shortProviders = map[string]string{
	"t": "tracepoint", "k": "kprobe", "kr": "kretprobe", "u": "uprobe", "ur": "uretprobe",
	"usdt": "usdt", "p": "profile", "i": "interval", "s": "software", "h": "hardware",
	"w": "watchpoint", "aw": "asyncwatchpoint", "f": "fentry", "fr": "fexit", "kfunc": "fentry",
	"kretfunc": "fexit", "rt": "rawtracepoint", "it": "iter",
}

// words calls visit with the start and end of each word of src outside
// strings and comments: identifiers, $variables and @maps (`@` alone too).
// With chars, 'c' is a character literal; without, only double quotes
// make strings.
func words(src string, chars bool, visit func(start, end int)) {
	l := lexer{src: src}
	for !l.eof() {
		switch c := l.peek(); {
		case c == '"' || c == '\'' && chars:
			l.skipQuoted(c)
		case strings.HasPrefix(src[l.i:], "//") || strings.HasPrefix(src[l.i:], "/*"):
			l.skipComment()
		case isIdent(c) || c == '$' || c == '@':
			j := l.i + 1
			for j < len(src) && isIdent(src[j]) {
				j++
			}
			visit(l.i, j)
			l.i = j
		default:
			l.i++
		}
	}
}

// replaceIdent replaces the identifier name in s outside strings and
// comments, and not as a field (after . or ->).
func replaceIdent(s, name, repl string) (string, int) {
	var b strings.Builder
	n, last := 0, 0
	words(s, true, func(i, j int) {
		field := i > 0 && s[i-1] == '.' || i > 1 && s[i-2:i] == "->"
		if s[i:j] == name && !field {
			b.WriteString(s[last:i])
			b.WriteString(repl)
			last = j
			n++
		}
	})
	b.WriteString(s[last:])
	return b.String(), n
}

func isIdent(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func syntaxErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrSyntax, fmt.Sprintf(format, a...))
}
