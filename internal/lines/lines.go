// Package lines splits what writers are given into whole lines: the client
// reads a session's output line by line (the runner's lines, the pods'
// marks, the final maps) while it arrives in pieces of any size.
package lines

import "bytes"

// Buffer collects what is written and hands out its complete lines.
type Buffer struct{ partial []byte }

// Lines adds p and calls each with every line it completes (without its
// newline; each must not keep the slice), stopping at each's first error.
func (b *Buffer) Lines(p []byte, each func(line []byte) error) error {
	b.partial = append(b.partial, p...)
	for {
		i := bytes.IndexByte(b.partial, '\n')
		if i < 0 {
			return nil
		}
		line := b.partial[:i]
		b.partial = b.partial[i+1:]
		if err := each(line); err != nil {
			return err
		}
	}
}

// Rest returns, and forgets, an unfinished last line.
func (b *Buffer) Rest() []byte {
	r := b.partial
	b.partial = nil
	return r
}

// Pending reports whether an unfinished line is held.
func (b *Buffer) Pending() bool { return len(b.partial) > 0 }

// Splitter passes everything on to W and calls Line for each complete line.
type Splitter struct {
	W    interface{ Write([]byte) (int, error) }
	Line func([]byte)
	buf  Buffer
}

// Write passes p on and calls Line for every line it completes.
func (s *Splitter) Write(p []byte) (int, error) {
	n, err := s.W.Write(p)
	_ = s.buf.Lines(p, func(l []byte) error { s.Line(l); return nil })
	return n, err
}
