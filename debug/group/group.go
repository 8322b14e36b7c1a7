package group

import (
	"context"
	"io"
	"os"
	"sync"

	"github.com/trace-debug/kubectl-trace-debug/debug/session"
)

// Member is one pod of a group: its name and the streams that mark its
// lines (unless the group is one pod) and keep its final maps.
type Member struct {
	// Pod and Namespace say which pod it is.
	Pod, Namespace string
	// Tracer is the member's session, when the group was made of a
	// session's pods (see Sessions).
	Tracer *session.Tracer
	// Out is the member's stdout, ErrOut its stderr; Interrupts delivers
	// its own copy of every signal the user sends.
	Out, ErrOut io.Writer
	Interrupts  <-chan os.Signal

	out *Final
	// lines writes the member's own lines to the group's stdout.
	lines io.Writer
	flush []*podLines
}

// Group is one command over a session's pods: several (a workload's, a
// selector's), or one, which is a group of one whose lines are its own.
type Group struct {
	// What names the pods for messages ("deployment/web", "the pods
	// labelled app=web").
	What string
	// Session is the session's name, once known; Verb says what is done
	// to each pod ("traced", "stopped").
	Session, Verb string
	// End makes the session's end of what the members printed after the
	// maps line (nil: nothing is made of it).
	End Ending

	out, errOut io.Writer
	json, one   bool
	mu          sync.Mutex // one line at a time, whichever pod it comes from
	members     []*Member
}

// New returns a group writing to out and errOut; json says that the output
// lines are JSON objects (each gets a "pod" field instead of a "[pod] "
// mark). One makes a group of one pod, as a trace of one pod always
// was: its lines go to out and errOut as they are, its Outcome is the
// pod's.
func New(what, verb string, out, errOut io.Writer, json, one bool) *Group {
	return &Group{What: what, Verb: verb, out: out, errOut: errOut, json: json, one: one}
}

// Add adds a member for pod, in namespace.
func (g *Group) Add(pod, namespace string) *Member {
	m := &Member{Pod: pod, Namespace: namespace}
	if g.one {
		m.lines, m.ErrOut = g.out, g.errOut
	} else {
		live := &podLines{w: g.out, pod: pod, json: g.json, mu: &g.mu}
		errOut := &podLines{w: g.errOut, pod: pod, mu: &g.mu}
		m.lines, m.ErrOut, m.flush = live, errOut, []*podLines{live, errOut}
	}
	m.out = &Final{Live: m.lines}
	m.Out = m.out
	g.members = append(g.members, m)
	return m
}

// Members are the group's members, in the order they were added.
func (g *Group) Members() []*Member { return g.members }

// Run runs do for every member at once, each with its own copy of every
// signal on interrupts, then flushes their lines and makes the session's
// end (End). It returns each member's result, in order, and the end's,
// as an Outcome.
func (g *Group) Run(ctx context.Context, interrupts <-chan os.Signal, do func(ctx context.Context, m *Member) error) Outcome {
	signals, stop := fanOut(interrupts, len(g.members))
	defer stop()
	errs := make([]error, len(g.members))
	var wg sync.WaitGroup
	for i, m := range g.members {
		m.Interrupts = signals[i]
		if m.Tracer != nil {
			m.Tracer.Interrupts = m.Interrupts
		}
		wg.Go(func() { errs[i] = do(ctx, m) })
	}
	wg.Wait()
	o := Outcome{What: g.What, Session: g.Session, Verb: g.Verb, Errs: errs, One: g.one}
	e := Ends{Out: g.out, One: g.one}
	for i, m := range g.members {
		m.out.Close()
		o.Pods, o.Tracers = append(o.Pods, m.Pod), append(o.Tracers, m.Tracer)
		kept, found := m.out.Kept()
		p := PodEnd{Pod: m.Pod, Kept: kept, Found: found, Lines: m.lines}
		if m.Tracer != nil {
			p.Target = m.Tracer.Target
		}
		e.Pods = append(e.Pods, p)
		if !found && errs[i] == nil { // ended well, yet its maps never came
			o.Unread = append(o.Unread, m.Pod)
		}
	}
	g.flush()
	if g.End != nil {
		o.Maps, o.Err = g.End.End(e)
		g.flush()
	}
	return o
}

// flush writes what is left of the members' unfinished lines.
func (g *Group) flush() {
	for _, m := range g.members {
		for _, l := range m.flush {
			l.Flush()
		}
	}
}

// fanOut delivers every signal from in to each of n channels (each member
// reads its own); stop ends the delivery.
func fanOut(in <-chan os.Signal, n int) ([]<-chan os.Signal, func()) {
	outs := make([]chan os.Signal, n)
	ro := make([]<-chan os.Signal, n)
	for i := range outs {
		outs[i] = make(chan os.Signal, 4)
		ro[i] = outs[i]
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case sig := <-in:
				for _, c := range outs {
					select {
					case c <- sig:
					default: // that member has had enough signals to leave
					}
				}
			}
		}
	}()
	var once sync.Once
	return ro, func() { once.Do(func() { close(done) }) }
}

// Muted is the member's stdout with nothing passed on: what is written to
// it only gives the session's end (a log read for its final maps alone).
func (m *Member) Muted() io.Writer {
	m.out.Live = io.Discard
	return m.out
}
