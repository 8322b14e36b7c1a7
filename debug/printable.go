package debug

import (
	"io"
	"strings"
)

// printableWriter passes text on with printable's replacements, keeping
// newlines and tabs: a session's output, written by its program, reaches
// another user's terminal through logs and attach.
type printableWriter struct{ w io.Writer }

// Write passes b on, its control characters replaced.
func (p printableWriter) Write(b []byte) (int, error) {
	s := strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return r
		}
		return printableRune(r)
	}, string(b))
	if _, err := io.WriteString(p.w, s); err != nil {
		return 0, err
	}
	return len(b), nil
}

// printable replaces control characters (terminal escapes included) in text
// that other users wrote with U+FFFD, so listing sessions cannot drive the
// reader's terminal.
func printable(s string) string { return strings.Map(printableRune, s) }

// printableRune is r, or U+FFFD for a C0 or C1 control character.
func printableRune(r rune) rune {
	if r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0 {
		return '\uFFFD'
	}
	return r
}

// truncate cuts s to n bytes, marking the cut with "...".
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}
