package debug

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/trace-debug/kubectl-trace-debug/bpf/mapmerge"
	"github.com/trace-debug/kubectl-trace-debug/bpf/stacks"
	"github.com/trace-debug/kubectl-trace-debug/debug/group"
)

// defaultCPUDuration is how long --cpu and --wall sample unless
// --duration says.
const defaultCPUDuration = 30 * time.Second

// defaultWallHz is how many readings of the goroutines a second --wall
// takes unless --hz says: each reads every goroutine of the pod.
const defaultWallHz = 10

// topRows is how many functions the default output (-o top) lists.
const topRows = 25

// profileFormats are the outputs of --cpu.
var profileFormats = []string{"top", "svg", "pprof", "folded", "json"}

// validateCPU checks the profiles' own settings (--cpu, --wall).
func (o *TraceOptions) validateCPU() error {
	if o.Detach {
		return codef(ExitUsage, "--cpu and --wall need an attached session: the client names and draws the profile as it ends; bound it with --duration instead of --detach")
	}
	if slices.Contains(profileFormats, o.profileFormat()) {
		return nil
	}
	return codef(ExitUsage, "with --cpu or --wall, --output must be one of %s, not %q", strings.Join(profileFormats, ", "), o.OutputFormat)
}

// profileFormat is the profile's -o: top unless another was given (the
// default, text, is bpftrace's).
func (o *TraceOptions) profileFormat() string {
	if o.OutputFormat == "text" {
		return "top"
	}
	return o.OutputFormat
}

// checkProfileOutput refuses a binary profile to a terminal, before
// anything is injected.
func (o *TraceOptions) checkProfileOutput() error {
	if o.profileFormat() != "pprof" || o.OutputFile != "" {
		return nil
	}
	if f, ok := o.Out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return codef(ExitUsage, "-o pprof writes a binary profile, and stdout is a terminal: give --output-file cpu.pprof (then `go tool pprof -top cpu.pprof`), or redirect stdout")
	}
	return nil
}

// profileEnding is how --cpu ends: the profile each pod's runner printed
// after the maps line, merged (each stack keeps its pod) and written as
// -o says. A pod whose profile did not come is left out (its error is its
// own).
type profileEnding struct {
	o *TraceOptions
	// out is where the profile goes (stdout, or --output-file).
	out io.Writer
}

// End draws the pods' profile; a memory profile's bytes by function are
// its maps (for --assert), another profile has none.
func (e *profileEnding) End(ends group.Ends) (*mapmerge.Dump, error) {
	o := e.o
	var names, containers []string
	var profiles []*stacks.Profile
	for _, pe := range ends.Pods {
		if !pe.Found {
			continue
		}
		p, err := stacks.Read(pe.Kept)
		if err != nil {
			return nil, codef(ExitInternal, "pod %s: %w", pe.Pod, err)
		}
		names, profiles = append(names, pe.Pod), append(profiles, p)
		if !slices.Contains(containers, pe.Target) {
			containers = append(containers, pe.Target)
		}
	}
	if len(profiles) == 0 {
		return nil, nil
	}
	p := stacks.Merge(names, profiles)
	if len(names) > 1 { // one pod's runner said its samples itself
		o.progress("profiles of %d pods merged (%s): %d samples in %d distinct stacks%s", len(names), strings.Join(names, ", "), p.Samples(), len(p.Stacks), p.Lost.Note())
	}
	container := ""
	if len(containers) == 1 {
		container = containers[0]
	}
	if err := o.writeProfile(e.out, p, strings.Join(names, ", "), container); err != nil {
		return nil, err
	}
	if p.Heap != nil {
		return p.HeapMaps(), nil
	}
	return nil, nil
}

// writeProfile writes p to w in the -o format.
func (o *TraceOptions) writeProfile(w io.Writer, p *stacks.Profile, pods, container string) error {
	var err error
	switch o.profileFormat() {
	case "svg":
		title := fmt.Sprintf("CPU of %s: %d samples at %d Hz over %v", pods, p.Samples(), p.Hz, p.Duration.Round(time.Second))
		switch {
		case o.Wall:
			title = fmt.Sprintf("Wall clock of %s: %d samples of its goroutines and threads, %d a second over %v", pods, p.Samples(), p.Hz, p.Duration.Round(time.Second))
		case p.Heap != nil && p.Heap.Alloc:
			title = fmt.Sprintf("Memory allocated by %s over %v: %d bytes (the runtime's memory profile)", pods, p.Duration.Round(time.Second), p.Samples())
		case p.Heap != nil:
			title = fmt.Sprintf("Memory in use in %s: %d bytes as of the last garbage collection (the runtime's memory profile)", pods, p.Samples())
		}
		err = p.WriteSVG(w, title, o.PerPod)
	case "pprof":
		labels := map[string]string{}
		if container != "" {
			labels["container"] = container
		}
		err = p.PProf(labels).Write(w) // gzipped, as go tool pprof reads it
	case "folded":
		_, err = io.WriteString(w, p.Folded(o.PerPod))
	case "json":
		err = p.WriteJSON(w)
	default:
		err = p.WriteTop(w, topRows)
	}
	if err != nil {
		return codef(ExitInternal, "write the profile: %w", err)
	}
	if o.OutputFile != "" {
		o.progress("%s profile of %d samples written to %s", o.profileFormat(), p.Samples(), o.OutputFile)
	}
	return nil
}
