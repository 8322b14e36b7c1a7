package assert

import "strings"

// rewrite turns an expression written with bpftrace's map names (@calls,
// @ for the anonymous map) into CEL, where @ cannot start a name: each
// @name becomes _name, so the expression keeps its length and CEL's
// columns stay the user's. It returns the maps it names, each once, in the
// order they first appear. Strings and comments are left as they are.
func rewrite(expr string) (string, []string) {
	b := []byte(expr)
	var refs []string
	seen := map[string]bool{}
	for i := 0; i < len(b); {
		switch c := b[i]; {
		case c == '"' || c == '\'':
			i = skipString(b, i)
		case c == '/' && i+1 < len(b) && b[i+1] == '/':
			for i < len(b) && b[i] != '\n' {
				i++
			}
		case c == '@':
			j := i + 1
			for j < len(b) && isNameByte(b[j]) {
				j++
			}
			if name := expr[i:j]; !seen[name] {
				seen[name] = true
				refs = append(refs, name)
			}
			b[i] = '_'
			i = j
		default:
			i++
		}
	}
	return string(b), refs
}

// skipString returns the index just past the CEL string literal that
// starts with the quote at b[i]: single, or tripled ("""...""").
func skipString(b []byte, i int) int {
	q := b[i]
	if i+2 < len(b) && b[i+1] == q && b[i+2] == q {
		end := strings.Index(string(b[i+3:]), string([]byte{q, q, q}))
		if end < 0 {
			return len(b)
		}
		return i + 3 + end + 3
	}
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case q:
			return j + 1
		}
	}
	return len(b)
}

// variable is the CEL name of the map written name (@calls: _calls).
func variable(name string) string { return "_" + strings.TrimPrefix(name, "@") }

// mapName is the map's name for a CEL variable (the inverse of variable).
func mapName(v string) string { return "@" + strings.TrimPrefix(v, "_") }

func isNameByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
