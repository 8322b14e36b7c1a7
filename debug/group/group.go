package group

import (
	"context"
	"io"
	"os"
	"sync"

	"github.com/trace-debug/kubectl-trace-debug/debug/session"
)

// Member is one pod of a group: its name and the streams that mark its
// lines and keep its final maps.
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

	out          *Final
	live, errOut *podLines
}

// Group is one command over several pods.
type Group struct {
	// What names the pods for messages ("deployment/web", "the pods
	// labelled app=web").
	What string
	// Session is the session's name, once known; Verb says what is done
	// to each pod ("traced", "stopped").
	Session, Verb string
	// Maps says how the members' final maps are shown.
	Maps Maps
	// Merged, when set, is told how many pods' maps are merged, before
	// they are printed.
	Merged func(pods int)
	// Finals, when set, takes what each member printed after the maps line
	// (found says whether it came) instead of the maps being shown.
	Finals func(pods, kept []string, found []bool) error

	out, errOut io.Writer
	json        bool
	mu          sync.Mutex // one line at a time, whichever pod it comes from
	members     []*Member
}

// New returns a group writing to out and errOut; json says that the output
// lines are JSON objects (each gets a "pod" field instead of a "[pod] "
// mark).
func New(what, verb string, out, errOut io.Writer, json bool) *Group {
	return &Group{What: what, Verb: verb, out: out, errOut: errOut, json: json}
}

// Add adds a member for pod, in namespace.
func (g *Group) Add(pod, namespace string) *Member {
	live := &podLines{w: g.out, pod: pod, json: g.json, mu: &g.mu}
	m := &Member{Pod: pod, Namespace: namespace, out: &Final{Live: live}, live: live, errOut: &podLines{w: g.errOut, pod: pod, mu: &g.mu}}
	m.Out, m.ErrOut = m.out, m.errOut
	g.members = append(g.members, m)
	return m
}

// Members are the group's members, in the order they were added.
func (g *Group) Members() []*Member { return g.members }

// Run runs do for every member at once, each with its own copy of every
// signal on interrupts, then flushes their lines and shows their final
// maps. It returns each member's result, in order, as an Outcome.
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
	o := Outcome{What: g.What, Session: g.Session, Verb: g.Verb, Errs: errs}
	var kept []string
	var found []bool
	for i, m := range g.members {
		m.errOut.Flush()
		o.Pods = append(o.Pods, m.Pod)
		m.out.Close()
		k, f := m.out.Kept()
		kept, found = append(kept, k), append(found, f)
		if !f && errs[i] == nil { // ended well, yet its maps never came
			o.Unread = append(o.Unread, m.Pod)
		}
	}
	if g.Finals != nil {
		o.Err = g.Finals(o.Pods, kept, found)
		return o
	}
	o.Maps, o.Err = g.Maps.show(g.out, g.members, g.Merged)
	return o
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
