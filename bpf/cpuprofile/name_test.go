package cpuprofile

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/trace-debug/kubectl-trace-debug/bpf/stacks"
)

// names is a namer over a fixed table; user addresses name two frames
// when the table says so (an inlined call).
type names map[uint64][]string

func (n names) Name(a uint64) string { return n[a][0] }

func (n names) Frames(a uint64) []stacks.Frame {
	var out []stacks.Frame
	for _, f := range n[a] {
		out = append(out, stacks.Frame{Func: f})
	}
	return out
}

// The kernel's frames come above the user's; a user return address is
// named at its call (the address before it); an inlined call is a frame of
// its own; an unreadable process keeps its addresses.
func TestFrames(t *testing.T) {
	st := Stack{User: []uint64{1, 0x11}, Kernel: []uint64{9}}
	user := names{1: {"main.step", "main.spin"}, 0x10: {"runtime.main"}}
	want := []stacks.Frame{{Func: "schedule"}, {Func: "main.step"}, {Func: "main.spin"}, {Func: "runtime.main"}}
	if got := st.frames(user, names{9: {"schedule"}}); !cmp.Equal(got, want) {
		t.Fatalf("frames (-want +got):\n%s", cmp.Diff(want, got))
	}
	want = []stacks.Frame{{Func: "schedule"}, {Func: "0x1"}, {Func: "0x11"}}
	if got := st.frames(nil, names{9: {"schedule"}}); !cmp.Equal(got, want) {
		t.Fatalf("an unreadable process (-want +got):\n%s", cmp.Diff(want, got))
	}
}
