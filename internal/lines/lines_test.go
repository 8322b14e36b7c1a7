package lines

import (
	"errors"
	"strings"
	"testing"
)

func TestBuffer(t *testing.T) {
	var b Buffer
	var got []string
	for _, w := range []string{"a\nb", "c\n\nd"} {
		if err := b.Lines([]byte(w), func(l []byte) error { got = append(got, string(l)); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if strings.Join(got, "|") != "a|bc|" || !b.Pending() || string(b.Rest()) != "d" || b.Pending() {
		t.Fatalf("lines %q", got)
	}
	stop := errors.New("stop")
	n := 0
	if err := b.Lines([]byte("x\ny\n"), func([]byte) error { n++; return stop }); err != stop || n != 1 {
		t.Fatalf("Lines did not stop at the first error: %v after %d", err, n)
	}
}

func TestSplitter(t *testing.T) {
	var out strings.Builder
	var seen []string
	s := &Splitter{W: &out, Line: func(l []byte) { seen = append(seen, string(l)) }}
	_, _ = s.Write([]byte("one\ntw"))
	_, _ = s.Write([]byte("o\n"))
	if out.String() != "one\ntwo\n" || strings.Join(seen, ",") != "one,two" {
		t.Fatalf("out %q, lines %q", out.String(), seen)
	}
}
