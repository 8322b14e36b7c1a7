package program

import (
	"slices"
	"strings"
)

// AggregationFuncs are bpftrace's aggregation functions, whose maps can
// be combined across tracers.
var AggregationFuncs = map[string]bool{
	"count": true, "sum": true, "min": true, "max": true, "avg": true, "stats": true, "hist": true, "lhist": true,
}

// Mixed is the aggregation of a map written in more than one way.
const Mixed = "mixed"

// token is one token of a program's code: a word (identifier, @map,
// $variable, number), a string, or an operator; at is its offset.
type token struct {
	text string
	at   int
}

// operators are the operators of more than one character the readers
// need to tell apart from their first character.
var operators = []string{"++", "+=", "-=", "==", "!=", "<=", ">=", "&&", "||", "->"}

// tokens splits src into tokens, skipping white space and comments as
// bpftrace's lexer does.
func tokens(src string) []token {
	l := lexer{src: src}
	var out []token
	for l.skipSpace(); !l.eof(); l.skipSpace() {
		start := l.i
		switch c := l.peek(); {
		case c == '"':
			l.skipQuoted(c)
		case isIdent(c) || c == '@' || c == '$':
			l.i++
			for !l.eof() && isIdent(l.peek()) {
				l.i++
			}
		default:
			l.i++
			for _, op := range operators {
				if strings.HasPrefix(src[start:], op) {
					l.i = start + len(op)
					break
				}
			}
		}
		out = append(out, token{src[start:l.i], start})
	}
	return out
}

// write is one write of a map (or of a macro's map parameter) in code: how
// (an aggregation function, "sum" for ++ and +=, "" for a plain value) and,
// for an aggregation, where its function's name is.
type write struct {
	name, how string
	fnAt      int
}

// writes finds the map writes in toks: `@m = fn(...)`, `@m[k] = v`,
// `@m++`, `++@m`, `@m[k] += v`; and the macro calls that pass maps:
// `name(@a, $x, @b)` gives each @ argument with its position.
func writes(toks []token) (ws []write, calls []macroCall) {
	for i := 0; i < len(toks); i++ {
		t := toks[i].text
		switch {
		case t == "++" && i+1 < len(toks) && strings.HasPrefix(toks[i+1].text, "@"):
			ws = append(ws, write{name: toks[i+1].text, how: "sum"})
		case strings.HasPrefix(t, "@"):
			j := i + 1
			if j < len(toks) && toks[j].text == "[" {
				j = closing(toks, j, "[", "]") + 1
			}
			if j >= len(toks) {
				continue
			}
			switch op := toks[j].text; {
			case op == "++" || op == "+=":
				ws = append(ws, write{name: t, how: "sum"})
			case op == "=":
				w := write{name: t}
				if j+2 < len(toks) && AggregationFuncs[toks[j+1].text] && toks[j+2].text == "(" {
					w.how, w.fnAt = toks[j+1].text, toks[j+1].at
				}
				ws = append(ws, w)
			case op == "-=" || op == "*=" || op == "/=":
				ws = append(ws, write{name: t})
			}
		case isIdent(t[0]) && !(t[0] >= '0' && t[0] <= '9') && i+1 < len(toks) && toks[i+1].text == "(":
			end := closing(toks, i+1, "(", ")")
			c := macroCall{name: t}
			arg, depth := 0, 0
			for k := i + 2; k < end; k++ {
				switch toks[k].text {
				case "(", "[", "{":
					depth++
				case ")", "]", "}":
					depth--
				case ",":
					if depth == 0 {
						arg++
					}
				}
				if depth == 0 && strings.HasPrefix(toks[k].text, "@") && (k == i+2 || toks[k-1].text == ",") && (k+1 == end || toks[k+1].text == ",") {
					c.maps = append(c.maps, argMap{arg, toks[k].text})
				}
			}
			if len(c.maps) > 0 {
				calls = append(calls, c)
			}
		}
	}
	return ws, calls
}

// closing is the index of the token that closes the bracket at toks[i]
// (or len(toks)).
func closing(toks []token, i int, open, close string) int {
	depth := 0
	for j := i; j < len(toks); j++ {
		switch toks[j].text {
		case open:
			depth++
		case close:
			depth--
			if depth == 0 {
				return j
			}
		}
	}
	return len(toks)
}

// macroCall is a call that passes maps, by argument position.
type macroCall struct {
	name string
	maps []argMap
}

type argMap struct {
	pos  int
	name string
}

// macro is a macro definition: its parameters and what its body writes;
// at is where its text starts in the parsed source.
type macro struct {
	params []string
	writes []write
	calls  []macroCall
	at     int
}

// parseMacro reads `macro NAME(PARAMS) { BODY }`.
func parseMacro(text string) (string, *macro) {
	toks := tokens(text)
	if len(toks) < 4 || toks[0].text != "macro" || toks[2].text != "(" {
		return "", nil
	}
	end := closing(toks, 2, "(", ")")
	m := &macro{}
	for k := 3; k < end; k++ {
		if toks[k].text != "," {
			m.params = append(m.params, toks[k].text)
		}
	}
	if end < len(toks) {
		m.writes, m.calls = writes(toks[end+1:])
	}
	return toks[1].text, m
}

// Aggregations returns, for each map the program writes, the aggregation
// function that writes it ("count", "hist", ...; "sum" for ++ and +=), ""
// when it is assigned plain values, and Mixed when it is written in more
// than one way. A map passed into a macro is written as the macro's body
// writes that parameter (through nested macros too): a macro's @name is its
// parameter, never a map of its own.
func (p *Program) Aggregations() map[string]string {
	out := map[string]string{}
	p.walkWrites(func(name, how string, _ int) {
		if prev, ok := out[name]; ok && prev != how {
			how = Mixed
		}
		out[name] = how
	})
	return out
}

// AggregationCalls returns the offsets, in src, of the name of each call
// of fn that aggregates into a map for which keep holds, in probes and in
// the macros those maps are passed to: where a rewrite (avg as stats) goes.
func AggregationCalls(src, fn string, keep func(name string) bool) []int {
	p, err := Parse(src)
	if err != nil {
		return nil
	}
	var at []int
	p.walkWrites(func(name, how string, fnAt int) {
		if how == fn && keep(name) && !slices.Contains(at, fnAt) {
			at = append(at, fnAt)
		}
	})
	return at
}

// walkWrites calls f for every write of a map the program makes, in its
// probes and functions and in the macros the maps are passed to (each
// macro's map parameters bound to the maps of the call, nested macros
// too): the map, how it is written, and where the aggregation function's
// name stands in the parsed source.
func (p *Program) walkWrites(f func(name, how string, fnAt int)) {
	macros := p.macros()
	var visit func(ws []write, calls []macroCall, bind map[string]string, base, depth int)
	visit = func(ws []write, calls []macroCall, bind map[string]string, base, depth int) {
		for _, w := range ws {
			name := w.name
			if bind != nil {
				name = bind[w.name] // a macro's own @name that is no parameter is no map
			}
			if name != "" {
				f(name, w.how, base+w.fnAt)
			}
		}
		for _, c := range calls {
			m := macros[c.name]
			if m == nil || depth > 16 {
				continue
			}
			inner := map[string]string{}
			for _, a := range c.maps {
				name := a.name
				if bind != nil {
					name = bind[a.name]
				}
				if a.pos < len(m.params) && name != "" {
					inner[m.params[a.pos]] = name
				}
			}
			visit(m.writes, m.calls, inner, m.at, depth+1)
		}
	}
	for _, pt := range p.parts {
		if pt.probe != nil {
			ws, calls := writes(tokens(pt.probe.orig))
			visit(ws, calls, nil, pt.probe.at, 0)
		}
	}
	for _, d := range p.decls {
		if d.kind == declFunc {
			ws, calls := writes(tokens(d.text))
			visit(ws, calls, nil, d.at, 0)
		}
	}
}

// macros are the program's macro definitions, by name.
func (p *Program) macros() map[string]*macro {
	out := map[string]*macro{}
	for _, d := range p.decls {
		if d.kind == declMacro {
			if name, m := parseMacro(d.text); m != nil {
				m.at = d.at
				out[name] = m
			}
		}
	}
	return out
}
