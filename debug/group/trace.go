package group

import (
	"context"
	"fmt"
	"sync"

	"github.com/trace-debug/kubectl-trace-debug/debug/exit"
	"github.com/trace-debug/kubectl-trace-debug/debug/kube"
	"github.com/trace-debug/kubectl-trace-debug/debug/pods"
	"github.com/trace-debug/kubectl-trace-debug/debug/session"
)

// TraceConfig is a trace over several pods: the request each pod's session
// is made from (its pod, name, user and checks are the group's), how the
// final maps are shown, and hooks for the command.
type TraceConfig struct {
	Request session.Request
	Maps    Maps
	// Merged is told how many pods' maps are merged, before they are printed.
	Merged func(pods int)
	// OnReady runs once every pod's probes are attached.
	OnReady func(session string)
	// Finals, when set, takes what the pods printed at the end instead of
	// their maps being shown (see Group.Finals).
	Finals func(pods, kept []string, found []bool) error
}

// Trace traces the running pods of targets in one session: the same program
// goes into each as its own tracer, all at once, under one session name.
// Each tracer runs as a single-pod trace does, with its own Ctrl-C state
// machine fed every signal the user sends, so the first Ctrl-C (or the
// duration, the deadline, the client going away) stops them all. Output
// lines carry their pod; the final maps are merged. Preflight runs once per
// namespace, before any tracer is injected.
func Trace(ctx context.Context, c kube.Clients, targets pods.Targets, cfg TraceConfig, s session.Streams) (Outcome, error) {
	user, err := preflight(ctx, c, targets, s)
	if err != nil {
		return Outcome{}, err
	}
	name := pods.SessionName(targets.Pointers()...)
	if !cfg.Request.Session.Attached {
		fmt.Fprintln(s.Out, name) // the session's name, at once, as for one pod
	}
	g := New(targets.What, "traced", s.Out, s.ErrOut, cfg.Request.Session.JSON)
	g.Session, g.Maps, g.Merged, g.Finals = name, cfg.Maps, cfg.Merged, cfg.Finals
	for _, p := range targets.Running {
		g.Add(p.Name, p.Namespace)
	}
	ready := readyCount{want: len(targets.Running), done: func() {
		if cfg.OnReady != nil {
			cfg.OnReady(name)
		}
	}}
	o := g.Run(ctx, s.Interrupts, func(ctx context.Context, m *Member) error {
		req := cfg.Request
		req.Pod, req.Name, req.User, req.Checked = m.Pod, name, user, true
		req.Session.Group, req.InGroup = true, true
		_, err := session.Trace(ctx, c.In(m.Namespace), req, session.Streams{Out: m.Out, ErrOut: m.ErrOut, Interrupts: m.Interrupts, OnReady: ready.hook})
		return err
	})
	o.Skipped = targets.Skipped
	return o, nil
}

// preflight makes preflight's checks once per namespace of the pods, and
// asks once who the user is: the pods then start at once, not one API
// round trip after another. Ctrl-C interrupts it.
func preflight(ctx context.Context, c kube.Clients, targets pods.Targets, s session.Streams) (user string, err error) {
	err = session.WhileInterruptible(ctx, s.Interrupts, "checking permissions", "", func(ctx context.Context) error {
		done := map[string]bool{}
		for _, p := range targets.Running {
			if done[p.Namespace] {
				continue
			}
			done[p.Namespace] = true
			if err := c.In(p.Namespace).Preflight(ctx); err != nil {
				return err
			}
		}
		user = c.WhoAmI(ctx)
		return nil
	})
	return user, err
}

// readyCount calls done once every pod's probes are attached.
type readyCount struct {
	mu   sync.Mutex
	n    int
	want int
	done func()
}

// hook is a pod's ready hook: the last pod to be ready runs done.
func (r *readyCount) hook(string) {
	r.mu.Lock()
	r.n++
	last := r.n == r.want
	r.mu.Unlock()
	if last {
		r.done()
	}
}

// Sessions finds session name in every running pod of targets and returns
// a group with a member (and its Tracer) for each pod that holds it; the
// maps are shown as the session's program and format say.
func Sessions(c kube.Clients, targets pods.Targets, name, verb string, s session.Streams) (*Group, error) {
	var g *Group
	for i := range targets.Running {
		p := &targets.Running[i]
		info, ok := pods.FindSession(p, name)
		if !ok {
			continue
		}
		if g == nil { // the session's program and format, the same in every pod
			g = New(targets.What, verb, s.Out, s.ErrOut, info.JSON)
			g.Session, g.Maps = name, SessionMaps(info)
		}
		m := g.Add(p.Name, p.Namespace)
		m.Tracer = session.FromPod(c, p, name, session.Streams{Out: m.Out, ErrOut: m.ErrOut})
	}
	if g == nil {
		return nil, exit.Fixf(exit.TargetNotFound, exit.Fix{Command: exit.List}, "find session: none of the %d running pods of %s holds session %q", len(targets.Running), targets.What, name)
	}
	return g, nil
}
