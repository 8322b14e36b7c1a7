// Package assert evaluates assertions on a trace's final maps: CEL
// expressions (cel.dev/cel-go, the expression language Kubernetes itself
// uses) in which maps are written as in bpftrace, `@errors == 0`,
// `@latency_us["main.handle"].p99 < 500`, `size(@conns) == 0`. It knows no
// flags and no cluster: the command compiles the user's expressions
// against the maps the program declares, and checks them on the maps the
// trace printed (one pod's, or several pods' merged).
package assert

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"

	"github.com/trace-debug/kubectl-trace-debug/bpf/mapmerge"
)

// Maps are the maps a program declares, by name (@calls, @ for the
// anonymous map), with their aggregation (Unknown when it is not one of
// bpftrace's aggregation functions).
type Maps map[string]mapmerge.Kind

// Assertion is one compiled expression.
type Assertion struct {
	// Expr is the expression as the user wrote it.
	Expr string
	// Refs are the maps it reads, in the order written.
	Refs []string
	// Keys are the keys it reads by a string literal, by map
	// (@calls["main.handle"]: "main.handle" under @calls); Whole says
	// which maps it also reads otherwise (size(@calls), a key computed).
	Keys  map[string][]string
	Whole map[string]bool
	prg   cel.Program
}

// Set is the assertions of a session and the maps they may read.
type Set struct {
	List []*Assertion
	maps Maps
}

// ErrInvalid is wrapped by every error of Compile: the expressions, not the
// trace, are at fault.
var ErrInvalid = errors.New("invalid assertion")

// Compile checks and compiles exprs against the maps the program
// declares: an expression that does not parse, that reads a map the
// program does not declare, or that is not a condition is refused, before
// anything runs.
func Compile(exprs []string, maps Maps) (*Set, error) {
	opts := []cel.EnvOption{cel.CrossTypeNumericComparisons(true)}
	for name := range maps {
		opts = append(opts, cel.Variable(variable(name), cel.DynType))
	}
	env, err := cel.NewEnv(opts...)
	if err != nil {
		return nil, fmt.Errorf("make expression environment: %w", err)
	}
	set := &Set{maps: maps}
	for _, expr := range exprs {
		a, err := compile(env, expr, maps)
		if err != nil {
			return nil, err
		}
		set.List = append(set.List, a)
	}
	return set, nil
}

// compile compiles one expression.
func compile(env *cel.Env, expr string, maps Maps) (*Assertion, error) {
	if strings.TrimSpace(expr) == "" {
		return nil, fmt.Errorf("%w: the expression is empty", ErrInvalid)
	}
	src, refs := rewrite(expr)
	for _, name := range refs {
		if _, ok := maps[name]; !ok {
			return nil, fmt.Errorf("%w %q: it reads map %s, which the program does not declare (its maps: %s)", ErrInvalid, expr, name, declared(maps))
		}
	}
	ast, iss := env.Compile(src)
	if iss.Err() != nil {
		return nil, fmt.Errorf("%w %q: %s", ErrInvalid, expr, issues(iss, maps))
	}
	if t := ast.OutputType(); t != cel.BoolType && t != cel.DynType {
		return nil, fmt.Errorf("%w %q: it gives a %s, not true or false; compare it (%s > 0)", ErrInvalid, expr, t, expr)
	}
	prg, err := env.Program(ast, cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, fmt.Errorf("%w %q: %v", ErrInvalid, expr, err)
	}
	keys, whole := literalKeys(ast)
	return &Assertion{Expr: expr, Refs: refs, Keys: keys, Whole: whole, prg: prg}, nil
}

// literalKeys are the string-literal keys an expression indexes maps by,
// and the maps it reads otherwise as well.
func literalKeys(a *cel.Ast) (keys map[string][]string, whole map[string]bool) {
	keys, whole = map[string][]string{}, map[string]bool{}
	indexed := map[int64]bool{} // the map identifiers read through a literal key
	celast.PostOrderVisit(a.NativeRep().Expr(), celast.NewExprVisitor(func(e celast.Expr) {
		if e.Kind() != celast.CallKind || e.AsCall().FunctionName() != operators.Index || len(e.AsCall().Args()) != 2 {
			return
		}
		m, k := e.AsCall().Args()[0], e.AsCall().Args()[1]
		if m.Kind() != celast.IdentKind || k.Kind() != celast.LiteralKind {
			return
		}
		if s, ok := k.AsLiteral().Value().(string); ok {
			name := mapName(m.AsIdent())
			keys[name] = append(keys[name], s)
			indexed[m.ID()] = true
		}
	}))
	celast.PostOrderVisit(a.NativeRep().Expr(), celast.NewExprVisitor(func(e celast.Expr) {
		if e.Kind() == celast.IdentKind && !indexed[e.ID()] {
			whole[mapName(e.AsIdent())] = true
		}
	}))
	return keys, whole
}

// issues words CEL's complaints about expr: each with its column, the
// maps under their own names.
func issues(iss *cel.Issues, maps Maps) string {
	var msgs []string
	for _, e := range iss.Errors() {
		msg := e.Message
		if strings.Contains(msg, "undeclared reference") {
			msg += " (maps are written with @, as in the program: @name)"
		}
		msgs = append(msgs, fmt.Sprintf("column %d: %s", e.Location.Column()+1, unmangle(msg, maps)))
	}
	return strings.Join(msgs, "; ")
}

// unmangle puts the maps' names back into a message of CEL's: each of
// their variables, as a whole word (the anonymous map's `_` not where it is
// part of an operator's name, `_<_`).
func unmangle(msg string, maps Maps) string {
	var b strings.Builder
	for i := 0; i < len(msg); i++ {
		if msg[i] == '_' && (i == 0 || !isNameByte(msg[i-1])) {
			j := i + 1
			for j < len(msg) && isNameByte(msg[j]) {
				j++
			}
			name := mapName(msg[i:j])
			_, known := maps[name]
			operator := j == i+1 && (j < len(msg) && strings.ContainsRune("<>=!+-*/%&|?:[(", rune(msg[j])) || i > 0 && strings.ContainsRune("<>=!+-*/%&|?:]", rune(msg[i-1])))
			if known && !operator {
				b.WriteString(name)
				i = j - 1
				continue
			}
		}
		b.WriteByte(msg[i])
	}
	return b.String()
}

// declared lists the program's maps for a message.
func declared(maps Maps) string {
	if len(maps) == 0 {
		return "none"
	}
	var names []string
	for name := range maps {
		names = append(names, name)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// MapsIn are the maps exprs read, each once, with an Unknown aggregation:
// what a program whose text is not at hand is taken to declare.
func MapsIn(exprs []string) Maps {
	maps := Maps{}
	for _, e := range exprs {
		_, refs := rewrite(e)
		for _, name := range refs {
			maps[name] = mapmerge.Unknown
		}
	}
	return maps
}

// Result is one assertion's outcome.
type Result struct {
	// Expr is the expression as the user wrote it.
	Expr string
	// Passed is true when it held.
	Passed bool
	// Seen are the values of the maps it reads, as they were.
	Seen []string
	// Err says why it could not be decided (a map without a value, a
	// comparison CEL has no meaning for); such an assertion failed.
	Err string
	// Duration is how long it took to evaluate.
	Duration time.Duration
}

// Message is the result's line for a person: the expression, whether it
// held, and what it saw.
func (r Result) Message() string {
	verdict := "held"
	switch {
	case r.Err != "":
		verdict = "could not be decided: " + r.Err
	case !r.Passed:
		verdict = "failed"
	}
	msg := fmt.Sprintf("assertion %s %s", r.Expr, verdict)
	if len(r.Seen) > 0 {
		msg += "; saw " + strings.Join(r.Seen, ", ")
	}
	return msg
}

// Check evaluates every assertion on the final maps d (nil when the trace
// printed none: every map reads as never written), which merge pods
// pods' maps. Over several pods a map that is no aggregation (assigned
// plainly, `@x = 5`) was not merged; reading it says so.
func (s *Set) Check(d *mapmerge.Dump, pods int) []Result {
	vars := map[string]any{}
	for name, kind := range s.maps {
		vars[variable(name)] = mapValue(name, kind, d.Find(name))
		if pods > 1 && kind == mapmerge.Unknown {
			vars[variable(name)] = types.NewErr("%s is no aggregation (count, sum, min, max, avg, stats, hist, lhist), so it cannot be merged across %d pods: assert it on one pod", name, pods)
		}
	}
	var out []Result
	for _, a := range s.List {
		start := time.Now()
		val, _, err := a.prg.Eval(vars)
		r := Result{Expr: a.Expr}
		switch {
		case err != nil:
			r.Err = unmangle(err.Error(), s.maps)
		case val.Type() != types.BoolType:
			r.Err = fmt.Sprintf("it gives %v, not true or false", val.Value())
		default:
			r.Passed = val == types.True
		}
		r.Duration = time.Since(start)
		for _, name := range a.Refs {
			r.Seen = append(r.Seen, describe(name, vars[variable(name)].(ref.Val)))
		}
		out = append(out, r)
	}
	return out
}

// Failed counts the results that did not hold.
func Failed(results []Result) int {
	n := 0
	for _, r := range results {
		if !r.Passed {
			n++
		}
	}
	return n
}
