package runner

import (
	"bytes"
	"io"
	"sync"
)

// gate holds what is written to it until it is opened, then writes the held
// bytes and everything after them through, in order. The runner starts the
// tracer before its client is there and gates its output, so nothing is lost
// and nothing is written before anyone reads. Past maxHeld a writer waits for
// the gate to open (bpftrace then waits on its pipe) rather than lose output.
type gate struct {
	mu     sync.Mutex
	opened *sync.Cond
	w      io.Writer
	held   bytes.Buffer
	open   bool
	drop   bool
}

// maxHeld bounds the output a gate holds.
const maxHeld = 4 << 20

func newGate(w io.Writer) *gate {
	g := &gate{w: w}
	g.opened = sync.NewCond(&g.mu)
	return g
}

func (g *gate) Write(p []byte) (int, error) {
	g.mu.Lock()
	for !g.open && !g.drop && g.held.Len()+len(p) > maxHeld && g.held.Len() > 0 {
		g.opened.Wait()
	}
	if g.drop {
		g.mu.Unlock()
		return len(p), nil
	}
	if !g.open {
		defer g.mu.Unlock()
		return g.held.Write(p)
	}
	g.mu.Unlock()
	return g.w.Write(p)
}

// Discard drops what is held and everything written later: nobody came.
func (g *gate) Discard() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.held.Reset()
	g.drop = true
	g.opened.Broadcast()
}

// Open writes what is held and lets later writes through.
func (g *gate) Open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.open {
		return
	}
	_, _ = g.w.Write(g.held.Bytes())
	g.held.Reset()
	g.open = true
	g.opened.Broadcast()
}
