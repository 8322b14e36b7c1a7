package progress

import (
	"strings"
	"testing"
)

func TestPrintf(t *testing.T) {
	var b strings.Builder
	Printf(&b, "tracer %s running", "trace-debug-x")
	if b.String() != "trace-debug: tracer trace-debug-x running\n" {
		t.Fatalf("got %q", b.String())
	}
}
