package group

import (
	"io"

	"github.com/trace-debug/kubectl-trace-debug/bpf/mapmerge"
)

// An Ending is what a session comes to at its end, made of what each of
// its pods printed after the runner's maps line: its final maps shown and
// read (Maps), a profile drawn (the command's own ending of --cpu). Every
// command and every mode ends through one (see Group.Run): a new mode
// adds an Ending, not a branch in the commands.
type Ending interface {
	// End shows the session's end and returns its final maps, read (nil
	// when it has none, or when no pod printed them).
	End(e Ends) (*mapmerge.Dump, error)
}

// Ends are what a group's pods printed after the maps line, and where the
// end is shown.
type Ends struct {
	// Out is the group's stdout.
	Out io.Writer
	// Pods are the members' ends, in the group's order.
	Pods []PodEnd
	// One says the group is one pod, as the user named it: its end is
	// shown as the pod printed it, its lines unmarked.
	One bool
}

// PodEnd is what one pod printed after the maps line.
type PodEnd struct {
	// Pod is the pod's name; Target the container its tracer traced,
	// when known.
	Pod, Target string
	// Kept is what the pod printed after the maps line; Found whether the
	// maps line came.
	Kept  string
	Found bool
	// Lines writes lines of this pod's own among the group's output
	// (marked with the pod unless One).
	Lines io.Writer
}
