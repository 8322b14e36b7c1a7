package group

import (
	"bytes"
	"io"

	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
)

// mapsLine is the runner's protocol.MapsLine, as bytes.
var mapsLine = []byte(protocol.MapsLine)

// Final is a session's stdout split at the runner's protocol.MapsLine:
// what comes before it goes to Live as it comes, an unfinished line too
// (a program's printf without a newline shows at once), but for the end
// of a line that could still become the maps line; what the runner prints
// after it (the final maps, a profile) is kept. Text before the maps line
// on its own line is output.
type Final struct {
	Live      io.Writer
	capturing bool
	// line is the unfinished line; passed how much of it went to Live.
	line   []byte
	passed int
	final  bytes.Buffer
}

// Kept is what came after the maps line, and whether the maps line came.
func (p *Final) Kept() (string, bool) { return p.final.String(), p.capturing }

// Close passes on or keeps what is left of an unfinished last line.
func (p *Final) Close() {
	if !p.capturing && len(p.line) > p.passed {
		_, _ = p.Live.Write(p.line[p.passed:])
	}
	p.line, p.passed = nil, 0
}

// Write passes output on until the maps line, and keeps what follows it.
func (p *Final) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 && !p.capturing {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			p.line = append(p.line, b...)
			return n, p.passPartial()
		}
		p.line = append(p.line, b[:i]...)
		b = b[i+1:]
		if err := p.endLine(); err != nil {
			return 0, err
		}
	}
	p.final.Write(b)
	return n, nil
}

// endLine ends the unfinished line: output, or the maps line (what was
// before it on its line is output, what was after it is kept).
func (p *Final) endLine() error {
	line, passed := p.line, p.passed
	p.line, p.passed = p.line[:0], 0
	j := bytes.Index(line, mapsLine)
	if j < 0 {
		_, err := p.Live.Write(append(line[passed:], '\n'))
		return err
	}
	p.capturing = true
	if rest := line[j+len(mapsLine):]; len(bytes.TrimSpace(rest)) > 0 {
		p.final.Write(append(rest, '\n'))
	}
	if j > 0 { // a line of output the maps line was written after
		_, err := p.Live.Write(append(line[passed:j:j], '\n'))
		return err
	}
	return nil
}

// passPartial passes on the unfinished line but for its end, when that
// could begin the maps line.
func (p *Final) passPartial() error {
	if bytes.Contains(p.line, mapsLine) {
		return nil // the maps line, with more to come on its line
	}
	hold := 0
	for k := min(len(mapsLine), len(p.line)); k > 0; k-- {
		if bytes.HasSuffix(p.line, mapsLine[:k]) {
			hold = k
			break
		}
	}
	if end := len(p.line) - hold; end > p.passed {
		if _, err := p.Live.Write(p.line[p.passed:end]); err != nil {
			return err
		}
		p.passed = end
	}
	return nil
}
