package group

import (
	"io"

	"github.com/trace-debug/kubectl-trace-debug/bpf/mapmerge"
	"github.com/trace-debug/kubectl-trace-debug/debug/exit"
	"github.com/trace-debug/kubectl-trace-debug/debug/pods"
	"github.com/trace-debug/kubectl-trace-debug/debug/progress"
	"github.com/trace-debug/kubectl-trace-debug/debug/session"
)

// Outcome is what a command over a session's pods came to: each pod's
// result, the pods that were not reached, the session's end, and the one
// rule every command exits by.
type Outcome struct {
	// What names the pods; Session is the session's name; Verb says what
	// was done to a pod ("traced", "stopped").
	What, Session, Verb string
	// Pods are the members' pods, Errs their results and Tracers their
	// sessions (nil where none was started or found) in the same order.
	Pods    []string
	Errs    []error
	Tracers []*session.Tracer
	// One says the group was one pod: the outcome is the pod's own.
	One bool
	// Skipped are the pods the target matched that were not reached.
	Skipped []pods.Skipped
	// Err is an error of the group itself (its final maps could not be
	// written), beside the pods' own.
	Err error
	// Maps are the pods' final maps merged (nil when no pod printed them).
	Maps *mapmerge.Dump
	// Unread are the pods that ended well but printed no maps line: their
	// final maps are not in Maps.
	Unread []string
}

// Failed is how many pods failed.
func (o Outcome) Failed() int {
	n := 0
	for _, err := range o.Errs {
		if err != nil {
			n++
		}
	}
	return n
}

// Report prints each pod's outcome to w as a progress line: its error
// (through explain, which words its fix), or ok (none when ok is ""); then
// the skipped pods. One pod's outcome is the command's own: it prints
// nothing.
func (o Outcome) Report(w io.Writer, ok string, explain func(error) error) {
	if o.One {
		return
	}
	for i, err := range o.Errs {
		if err != nil {
			progress.Printf(w, "[%s] session %s: %v", o.Pods[i], o.Session, explain(err))
			continue
		}
		if ok != "" {
			progress.Printf(w, "[%s] session %s: %s", o.Pods[i], o.Session, ok)
		}
	}
	for _, s := range o.Skipped {
		progress.Printf(w, "[%s] not %s: %s", s.Pod, o.Verb, s.Reason)
	}
}

// Result is the command's result: nil when every pod succeeded and none
// was skipped; the pods' common exit code when all failed alike; else
// exit.Partial. One pod's is its own, then the end's.
func (o Outcome) Result() error {
	if o.One {
		switch {
		case o.Errs[0] != nil:
			return o.Errs[0]
		case o.Err != nil:
			return o.Err
		case len(o.Skipped) > 0:
			return exit.Codef(exit.Partial, "%s 1 pod; %d not %s: %s", o.Verb, len(o.Skipped), o.Verb, pods.Targets{Skipped: o.Skipped}.SkippedList())
		}
		return nil
	}
	if o.Err != nil {
		return o.Err
	}
	failed, codes := o.Failed(), map[int]bool{}
	for _, err := range o.Errs {
		if err != nil {
			codes[exit.Code(err)] = true
		}
	}
	total := len(o.Errs) + len(o.Skipped)
	switch {
	case failed == 0 && len(o.Skipped) == 0:
		return nil
	case failed == len(o.Errs) && len(codes) == 1:
		for code := range codes {
			return exit.Codef(code, "session %s failed in every pod of %s (each pod's reason is above)", o.Session, o.What)
		}
	}
	return exit.Codef(exit.Partial, "session %s: %s %d of the %d pods of %s (each pod's outcome is above)", o.Session, o.Verb, len(o.Errs)-failed, total, o.What)
}
