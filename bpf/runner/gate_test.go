package runner

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestGate(t *testing.T) {
	var out bytes.Buffer
	g := newGate(&out)
	g.Write([]byte("one\n"))
	g.Write([]byte("two\n"))
	if out.Len() != 0 {
		t.Fatalf("written before the gate opened: %q", out.String())
	}
	g.Open()
	g.Write([]byte("three\n"))
	if out.String() != "one\ntwo\nthree\n" {
		t.Fatalf("got %q", out.String())
	}

	// A writer past the bound waits for the gate rather than lose output.
	var big bytes.Buffer
	g = newGate(&big)
	g.Write(bytes.Repeat([]byte("x"), maxHeld))
	done := make(chan struct{})
	go func() { g.Write([]byte("tail")); close(done) }()
	select {
	case <-done:
		t.Fatal("a write past the bound did not wait")
	case <-time.After(50 * time.Millisecond):
	}
	g.Open()
	<-done
	if big.Len() != maxHeld+4 || !strings.HasSuffix(big.String(), "tail") {
		t.Fatalf("got %d bytes", big.Len())
	}
}

func TestGateDiscard(t *testing.T) {
	var out bytes.Buffer
	g := newGate(&out)
	g.Write([]byte("held\n"))
	g.Discard()
	g.Write([]byte("later\n"))
	g.Open()
	if out.Len() != 0 {
		t.Fatalf("a discarded gate wrote %q", out.String())
	}
}
