package program

import (
	"strings"
)

// lexer walks a program's text, skipping what bpftrace's lexer skips.
type lexer struct {
	src string
	i   int
}

func (l *lexer) eof() bool  { return l.i >= len(l.src) }
func (l *lexer) peek() byte { return l.src[l.i] }

// skipSpace skips white space and comments.
func (l *lexer) skipSpace() {
	for !l.eof() {
		switch {
		case strings.ContainsRune(" \t\r\n\f\v", rune(l.peek())):
			l.i++
		case strings.HasPrefix(l.src[l.i:], "//"), strings.HasPrefix(l.src[l.i:], "/*"):
			l.skipComment()
		default:
			return
		}
	}
}

// skipComment skips a // or /* */ comment at l.i.
func (l *lexer) skipComment() {
	if strings.HasPrefix(l.src[l.i:], "//") {
		if j := strings.IndexByte(l.src[l.i:], '\n'); j >= 0 {
			l.i += j + 1
		} else {
			l.i = len(l.src)
		}
		return
	}
	if j := strings.Index(l.src[l.i+2:], "*/"); j >= 0 {
		l.i += 2 + j + 2
	} else {
		l.i = len(l.src)
	}
}

// skipQuoted skips a string or character literal opened by q at l.i.
func (l *lexer) skipQuoted(q byte) {
	l.i++
	for !l.eof() {
		c := l.peek()
		l.i++
		if c == '\\' {
			l.i++
		} else if c == q || c == '\n' && q == '\'' {
			return
		}
	}
}

// skipDirective skips a preprocessor line and its continuations.
func (l *lexer) skipDirective() {
	for !l.eof() {
		j := strings.IndexByte(l.src[l.i:], '\n')
		if j < 0 {
			l.i = len(l.src)
			return
		}
		line := strings.TrimRight(l.src[l.i:l.i+j], " \t\r")
		l.i += j + 1
		if !strings.HasSuffix(line, "\\") {
			return
		}
	}
}

// keyword reports whether the word at l.i is kw (not a prefix of a longer
// word). It does not move.
func (l *lexer) keyword(kw string) bool {
	if !strings.HasPrefix(l.src[l.i:], kw) {
		return false
	}
	j := l.i + len(kw)
	return j == len(l.src) || !isIdent(l.src[j])
}

// skipOptional skips white space and then c, if c is next.
func (l *lexer) skipOptional(c byte) {
	save := l.i
	l.skipSpace()
	if !l.eof() && l.peek() == c {
		l.i++
		return
	}
	l.i = save
}

// skipThrough moves past the next balanced block opened by open ('{').
func (l *lexer) skipThrough(open byte) error {
	for !l.eof() && l.peek() != open {
		l.step()
	}
	if l.eof() {
		return syntaxErr("no %q block at offset %d", open, l.i)
	}
	return l.skipBlock()
}

// skipBlock skips the balanced {...} at l.i.
func (l *lexer) skipBlock() error {
	start, depth := l.i, 0
	for !l.eof() {
		switch l.peek() {
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				l.i++
				return nil
			}
		}
		l.step()
	}
	return syntaxErr("unbalanced braces from offset %d", start)
}

// step moves past one token-ish unit: a string, a comment or a byte.
func (l *lexer) step() {
	switch c := l.peek(); {
	case c == '"' || c == '\'':
		l.skipQuoted(c)
	case strings.HasPrefix(l.src[l.i:], "//"), strings.HasPrefix(l.src[l.i:], "/*"):
		l.skipComment()
	default:
		l.i++
	}
}

// skipDefinition skips a C type definition up to its closing ';'.
func (l *lexer) skipDefinition() error {
	for !l.eof() {
		switch l.peek() {
		case '{':
			if err := l.skipBlock(); err != nil {
				return err
			}
			continue
		case ';':
			l.i++
			return nil
		}
		l.step()
	}
	return syntaxErr("a type definition without ';'")
}

// skipStatement skips a top-level statement (import, let) up to its ';' or
// the end of the line.
func (l *lexer) skipStatement() error {
	for !l.eof() {
		switch l.peek() {
		case ';', '\n':
			l.i++
			return nil
		case '{':
			if err := l.skipBlock(); err != nil {
				return err
			}
			continue
		}
		l.step()
	}
	return nil
}

// declaration skips the top-level declaration at l.i and tells its kind,
// or returns -1 without moving when a probe starts there.
func (l *lexer) declaration() (declKind, error) {
	var err error
	kind := declKind(-1)
	switch {
	case l.peek() == '#':
		kind = declDirective
		l.skipDirective()
	case l.keyword("config"):
		kind = declConfig
		if err = l.skipThrough('{'); err == nil {
			l.skipOptional(';')
		}
	case l.keyword("struct"), l.keyword("union"), l.keyword("enum"), l.keyword("typedef"):
		kind, err = declType, l.skipDefinition()
	case l.keyword("macro"):
		kind, err = declMacro, l.skipThrough('{')
	case l.keyword("fn"):
		kind, err = declFunc, l.skipThrough('{')
	case l.keyword("import"):
		kind, err = declImport, l.skipStatement()
	case l.keyword("let"):
		kind, err = declLet, l.skipStatement()
	}
	return kind, err
}

// probe reads attach points, an optional predicate and the body at l.i.
func (l *lexer) probe() (*Probe, error) {
	p := &Probe{}
	for {
		point, err := l.attachPoint()
		if err != nil {
			return nil, err
		}
		p.Points = append(p.Points, point)
		l.skipSpace()
		if l.eof() || l.peek() != ',' {
			break
		}
		l.i++
		l.skipSpace()
	}
	if l.eof() {
		return nil, syntaxErr("probe %s has no body", strings.Join(p.Points, ", "))
	}
	if l.peek() == '/' {
		pred, err := l.predicate()
		if err != nil {
			return nil, err
		}
		p.Predicate = pred
		l.skipSpace()
	}
	if l.eof() || l.peek() != '{' {
		return nil, syntaxErr("probe %s: want '{' at offset %d", strings.Join(p.Points, ", "), l.i)
	}
	start := l.i
	if err := l.skipBlock(); err != nil {
		return nil, err
	}
	p.Body = l.src[start:l.i]
	return p, nil
}

// attachPoint reads one attach point: everything up to white space, ',' or
// '{', with quoted parts kept whole.
func (l *lexer) attachPoint() (string, error) {
	start := l.i
	for !l.eof() {
		c := l.peek()
		if c == '"' {
			l.skipQuoted(c)
			continue
		}
		if strings.ContainsRune(" \t\r\n,{", rune(c)) {
			break
		}
		l.i++
	}
	if l.i == start {
		return "", syntaxErr("want an attach point at offset %d", start)
	}
	return l.src[start:l.i], nil
}

// predicate reads `/ expr /` at l.i: the expression runs to the last '/'
// before the first '{' outside strings, comments and parentheses.
func (l *lexer) predicate() (string, error) {
	open := l.i
	l.i++
	closing, depth := -1, 0
	for !l.eof() {
		switch c := l.peek(); {
		case c == '(' || c == '[':
			depth++
		case c == ')' || c == ']':
			depth--
		case c == '{' && depth <= 0:
			if closing < 0 {
				return "", syntaxErr("predicate at offset %d has no closing '/'", open)
			}
			l.i = closing + 1
			return strings.TrimSpace(l.src[open+1 : closing]), nil
		case c == '/' && !strings.HasPrefix(l.src[l.i:], "//") && !strings.HasPrefix(l.src[l.i:], "/*"):
			closing = l.i
		}
		l.step()
	}
	return "", syntaxErr("predicate at offset %d is not followed by a body", open)
}
