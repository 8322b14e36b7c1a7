// Package progress is the client's voice on stderr: the one line format
// every layer says what it is doing in ("trace-debug: ..."), kept apart
// from the runner's lines and the program's output that share the stream.
// It sits beneath every layer of the client, beside exit, so that the
// command's prefix is spelt in one place and no layer owns it.
package progress

import (
	"fmt"
	"io"
)

// Prefix starts every line the client says on stderr.
const Prefix = "trace-debug: "

// Printf prints a line about what the command is doing to w (its stderr).
func Printf(w io.Writer, format string, a ...any) {
	fmt.Fprintf(w, Prefix+format+"\n", a...)
}
