package runner

import (
	"strconv"
	"strings"
	"testing"
)

// The marker may arrive split across writes: everything before its line
// goes out, the marker line and what follows never do.
func TestMarkerCutter(t *testing.T) {
	for name, chunks := range map[string][]string{
		"text, one write":   {"a\n@x: 1\nMARK-42\n@x: 1\n"},
		"text, split":       {"a\n@x: 1\nMA", "RK-", "42\nlater\n"},
		"json printf split": {"a\n@x: 1\n{\"type\": \"pri", "ntf\", \"data\": \"MARK-42\\n\"}\n"},
	} {
		t.Run(name, func(t *testing.T) {
			var out strings.Builder
			seen := make(chan struct{})
			m := newMarkerCutter(&out, "MARK-42", 0, seen)
			for _, c := range chunks {
				_, _ = m.Write([]byte(c))
			}
			m.Flush()
			select {
			case <-seen:
			default:
				t.Fatal("the marker was not seen")
			}
			if out.String() != "a\n@x: 1\n" {
				t.Fatalf("passed on %q", out.String())
			}
		})
	}
	// Without the marker everything goes out, a held fragment at the end too.
	var out strings.Builder
	m := newMarkerCutter(&out, "MARK-42", 1, make(chan struct{}))
	_, _ = m.Write([]byte(`{"type": "attached_probes", "count": 3, "data": {"probes": 3}}` + "\nMA"))
	m.Flush()
	if want := `{"type": "attached_probes", "count": 2, "data": {"probes": 2}}` + "\nMA"; out.String() != want {
		t.Fatalf("got %q, want %q", out.String(), want)
	}
}

// The tracer's stderr keeps what the user must see and loses the noise the
// node causes and the warnings about the runner's own predicate.
func TestQuietWriter(t *testing.T) {
	src := "kprobe:f /" + scopeMarker + "->pid_ns_for_children->ns.inum == 1/ { @x = count(); }"
	from := strings.Index(src, scopeMarker) + 1
	lines := []string{
		"WARNING: Unknown error -1: couldn't set RLIMIT_MEMLOCK for bpftrace. If your program is not loading, you can try \"ulimit -l 8192\" to fix the problem\n",
		"WARNING: Could not read functions from /sys/kernel/tracing/available_filter_functions. If this is expected...\n",
		"stdin:1:" + itoa(from) + "-" + itoa(from+40) + ": WARNING: Addrspace mismatch\n", src + "\n", "      ~~~~~~\n",
		"stdin:1:1-9: WARNING: the user's own warning\n", "kprobe:f\n", "~~~~~~~~\n",
		"Attached 3 probes\n",
		"ERROR: a real problem\n",
		"WARNING: Could not determine instruction boundary for uprobe:/app/stripped:4112 (binary appears stripped). Misaligned probes can lead to tracee crashes!\n",
		"WARNING: Could not determine instruction boundary for uprobe:/app/stripped:4113 (binary appears stripped). Misaligned probes can lead to tracee crashes!\n",
	}
	want := "stdin:1:1-9: WARNING: the user's own warning\nkprobe:f\n~~~~~~~~\nAttached 2 probes\nERROR: a real problem\n" +
		"WARNING: Could not determine instruction boundary for uprobe:/app/stripped:4113 (binary appears stripped). Misaligned probes can lead to tracee crashes!\n"
	for _, pieces := range []int{1, 2, 5} { // whole lines, and lines written piecemeal as bpftrace does
		var out strings.Builder
		q := newQuietWriter(&out, 1, scopeMarker)
		q.own = []string{"uprobe:/app/stripped:4112"} // the runner's own, at 0x1010
		for _, l := range lines {
			for i := 0; i < pieces; i++ {
				from, to := len(l)*i/pieces, len(l)*(i+1)/pieces
				_, _ = q.Write([]byte(l[from:to]))
				if out.Len() > 0 && !strings.HasSuffix(out.String(), "\n") {
					t.Fatalf("%d pieces: a part of a line went out: %q", pieces, out.String())
				}
			}
		}
		q.Flush()
		if out.String() != want {
			t.Fatalf("%d pieces: got:\n%s\nwant:\n%s", pieces, out.String(), want)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
