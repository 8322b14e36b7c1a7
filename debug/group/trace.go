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

// TraceConfig is a trace over a target's pods: the request each pod's
// session is made from (its pod, and over several pods its name, user and
// checks, are the group's), the session's end, and a hook for the command.
type TraceConfig struct {
	Request session.Request
	// End makes the session's end (see Group.End).
	End Ending
	// OnReady runs once every pod's probes are attached.
	OnReady func(session string)
}

// Trace traces the running pods of targets in one session: the same program
// goes into each as its own tracer, all at once, under one session name.
// Each tracer runs as a single-pod trace does, with its own Ctrl-C state
// machine fed every signal the user sends, so the first Ctrl-C (or the
// duration, the deadline, the client going away) stops them all. Over
// several pods, output lines carry their pod, preflight runs once per
// namespace before any tracer is injected, and the session's final maps
// are marked for the end to merge; one pod is a group of one (see New),
// its session started as ever (preflight, its name, its user).
func Trace(ctx context.Context, c kube.Clients, targets pods.Targets, cfg TraceConfig, s session.Streams) (Outcome, error) {
	one := len(targets.Running) == 1
	req := cfg.Request
	if !one {
		user, err := preflight(ctx, c, targets, s)
		if err != nil {
			return Outcome{}, err
		}
		req.Name, req.User, req.Checked = pods.SessionName(targets.Pointers()...), user, true
		req.Session.MarkMaps, req.InGroup = true, true
		if !req.Session.Attached {
			fmt.Fprintln(s.Out, req.Name) // the session's name, at once, as for one pod
		}
	}
	g := New(targets.What, "traced", s.Out, s.ErrOut, req.Session.JSON, one)
	g.Session, g.End = req.Name, cfg.End
	for _, p := range targets.Running {
		g.Add(p.Name, p.Namespace)
	}
	ready := readyCount{want: len(targets.Running), done: func(name string) {
		if cfg.OnReady != nil {
			cfg.OnReady(name)
		}
	}}
	var mu sync.Mutex
	o := g.Run(ctx, s.Interrupts, func(ctx context.Context, m *Member) error {
		req := req
		req.Pod = m.Pod
		t, err := session.Trace(ctx, c.In(m.Namespace), req, session.Streams{Out: m.Out, ErrOut: m.ErrOut, Interrupts: m.Interrupts, OnReady: ready.hook})
		mu.Lock()
		m.Tracer = t
		if g.Session == "" && t != nil {
			g.Session = t.Name // one pod's, named as it started
		}
		mu.Unlock()
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
	done func(session string)
}

// hook is a pod's ready hook: the last pod to be ready runs done.
func (r *readyCount) hook(session string) {
	r.mu.Lock()
	r.n++
	last := r.n == r.want
	r.mu.Unlock()
	if last {
		r.done(session)
	}
}

// Sessions finds session name in every running pod of targets and returns
// a group with a member (and its Tracer) for each pod that holds it.
func Sessions(c kube.Clients, targets pods.Targets, name, verb string, s session.Streams) (*Group, error) {
	var g *Group
	for i := range targets.Running {
		p := &targets.Running[i]
		info, ok := pods.FindSession(p, name)
		if !ok {
			continue
		}
		if g == nil { // the session's program and format, the same in every pod
			g = New(targets.What, verb, s.Out, s.ErrOut, info.JSON, false)
			g.Session = name
		}
		m := g.Add(p.Name, p.Namespace)
		m.Tracer = session.FromPod(c, p, name, session.Streams{Out: m.Out, ErrOut: m.ErrOut})
	}
	if g == nil {
		return nil, exit.Fixf(exit.TargetNotFound, exit.Fix{Command: exit.List}, "find session: none of the %d running pods of %s holds session %q", len(targets.Running), targets.What, name)
	}
	return g, nil
}

// Found is the group of one found session, t: its lines are its own.
func Found(t *session.Tracer, verb string, s session.Streams) *Group {
	g := New("pod/"+t.Pod, verb, s.Out, s.ErrOut, t.Info.JSON, true)
	g.Session = t.Name
	m := g.Add(t.Pod, t.Namespace)
	m.Tracer, t.Out, t.ErrOut = t, m.Out, m.ErrOut
	return g
}
