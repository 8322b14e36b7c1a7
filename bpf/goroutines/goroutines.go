// Package goroutines is the goroutine dump (--goroutines) as it travels
// from the runner to the client and is shown: a pod's Go processes'
// goroutines grouped by identical state and stack, carried as one JSON
// document after protocol.MapsLine, merged across pods, written as text
// (what /debug/pprof/goroutine?debug=1 gives, with each group's state and
// longest wait), JSON, or a goroutine profile in pprof's format, and
// counted as maps for --assert (@goroutines by function, @states).
//
// Shared: the runner writes dumps, the client reads and shows them; it
// links no eBPF and no Kubernetes code (boundary_test.go keeps it so).
package goroutines

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/trace-debug/kubectl-trace-debug/bpf/stacks"
)

// Dump is the goroutines of a pod's Go processes (or of several pods',
// merged).
type Dump struct {
	// Total is how many goroutines were read; Dropped how many moved
	// while they were read and were left out.
	Total   int `json:"total"`
	Dropped int `json:"dropped"`
	// Groups are the goroutines by identical state and stack, largest
	// first.
	Groups []Group `json:"groups"`
	// Unread are the processes that could not be read, with why.
	Unread []string `json:"unread,omitempty"`

	index map[string]int // a group's place in Groups, by its key
}

// Group is goroutines of one process in the same state with the same
// stack.
type Group struct {
	// Count is how many.
	Count int `json:"count"`
	// State is "running", "runnable", "syscall" or why they wait, as the
	// runtime says it ("chan receive", "sync.Mutex.Lock").
	State string `json:"state"`
	// Waited is the longest any of them has waited, as the runtime
	// records it (at a garbage collection that found it waiting); 0 when
	// not recorded.
	Waited time.Duration `json:"waited_ns,omitempty"`
	// Frames are the stack, innermost first (none for running goroutines).
	Frames []stacks.Frame `json:"frames"`
	// Process is the process's name (its comm), Pod its pod once merged.
	Process string `json:"process"`
	Pod     string `json:"pod,omitempty"`
}

// key is what makes goroutines one group.
func (g Group) key() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\x00%s\x00%s", g.Pod, g.Process, g.State)
	for _, f := range g.Frames {
		fmt.Fprintf(&b, "\x00%s:%d", f.Func, f.Line)
	}
	return b.String()
}

// Add counts a goroutine into d: into its group, or a new one.
func (d *Dump) Add(g Group) {
	d.Total += g.Count
	if d.index == nil || len(d.index) != len(d.Groups) { // new, read or sorted since
		d.index = map[string]int{}
		for i, h := range d.Groups {
			d.index[h.key()] = i
		}
	}
	k := g.key()
	if i, ok := d.index[k]; ok {
		d.Groups[i].Count += g.Count
		d.Groups[i].Waited = max(d.Groups[i].Waited, g.Waited)
		return
	}
	d.index[k] = len(d.Groups)
	d.Groups = append(d.Groups, g)
}

// Sort orders the groups largest first (then by state and stack).
func (d *Dump) Sort() {
	d.index = nil
	slices.SortStableFunc(d.Groups, func(a, b Group) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.State, b.State), cmp.Compare(a.key(), b.key()))
	})
}

// Write writes d as the runner sends it: one JSON document on a line.
func Write(w io.Writer, d *Dump) error {
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// Read reads a dump the runner wrote (see Write).
func Read(s string) (*Dump, error) {
	var d Dump
	if err := json.Unmarshal([]byte(strings.TrimSpace(s)), &d); err != nil {
		return nil, fmt.Errorf("read the goroutine dump: %w", err)
	}
	return &d, nil
}

// Merge merges pods' dumps (pods[i]'s is dumps[i]) into one: the same
// state and stack of the same program in several pods is one group,
// unless perPod keeps each pod's apart (each group then names its pod).
func Merge(pods []string, dumps []*Dump, perPod bool) *Dump {
	out := &Dump{}
	for i, d := range dumps {
		out.Dropped += d.Dropped
		for _, u := range d.Unread {
			out.Unread = append(out.Unread, pods[i]+": "+u)
		}
		for _, g := range d.Groups {
			if perPod {
				g.Pod = pods[i]
			}
			out.Add(g)
		}
	}
	out.Sort()
	return out
}

// WriteText writes d as /debug/pprof/goroutine?debug=1 does, each group
// with its state and longest wait: the total, then each group (largest
// first) and its stack with file:line.
func (d *Dump) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "goroutine profile: total %d", d.Total)
	if d.Dropped > 0 {
		fmt.Fprintf(w, " (%d more moved while read, left out)", d.Dropped)
	}
	fmt.Fprintln(w)
	for _, g := range d.Groups {
		fmt.Fprintf(w, "\n%d @ %s", g.Count, g.State)
		if g.Waited > 0 {
			fmt.Fprintf(w, ", the longest for %v", g.Waited.Round(time.Second))
		}
		where := g.Process
		if g.Pod != "" {
			where = g.Pod + " " + where
		}
		fmt.Fprintf(w, " [%s]\n", where)
		for _, f := range g.Frames { // as Go's own: "#", the function, its file:line, tab-separated
			line := "#\t" + f.Func
			if f.File != "" {
				line += fmt.Sprintf("\t%s:%d", f.File, f.Line)
			}
			if _, err := fmt.Fprintln(w, line); err != nil {
				return err
			}
		}
	}
	for _, u := range d.Unread {
		fmt.Fprintf(w, "\nnot read: %s\n", u)
	}
	return nil
}

// WriteJSON writes d as one indented JSON document.
func (d *Dump) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(d)
}
