package exit

import "time"

// Setting is a setting of the command line that a remedy changes, named by
// what it does: only the command layer knows its flag.
type Setting int

// The settings a lower layer may advise changing.
const (
	NoSetting Setting = iota
	// Container chooses the target container.
	Container
	// RunnerImage is the runner image.
	RunnerImage
	// MatchingImage is a runner image of the client's own version.
	MatchingImage
	// Deadline is the tracer's hard bound.
	Deadline
	// StartTimeout bounds the wait for the tracer to start.
	StartTimeout
	// Target is how the pods are named: a pod, a workload or a selector.
	Target
	// Credentials are the kubeconfig and its context.
	Credentials
)

// Command is a subcommand a remedy runs.
type Command int

// The subcommands a lower layer may advise.
const (
	NoCommand Command = iota
	// List lists the sessions of Pod.
	List
	// Stop ends Session in Pod.
	Stop
	// Resume follows Session in Pod again, or ends it.
	Resume
)

// Fix is what the user can do about an error when that is a setting to
// change or a subcommand to run. Lower layers say which; the command layer
// words it, so that flags and subcommands are spelt in one layer.
type Fix struct {
	Setting Setting
	Command Command
	// Pod (its name) and Session say what Command acts on.
	Pod, Session string
	// Detached says that Session runs on without a client until Deadline
	// (and Duration, when set).
	Detached           bool
	Deadline, Duration time.Duration
}
