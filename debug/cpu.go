package debug

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/trace-debug/kubectl-trace-debug/bpf/stacks"
)

// defaultCPUDuration is how long --cpu samples unless --duration says.
const defaultCPUDuration = 30 * time.Second

// topRows is how many functions the default output (-o top) lists.
const topRows = 25

// profileFormats are the outputs of --cpu.
var profileFormats = []string{"top", "svg", "pprof", "folded", "json"}

// validateCPU checks --cpu's own settings.
func (o *TraceOptions) validateCPU() error {
	if o.Detach {
		return codef(ExitUsage, "--cpu needs an attached session: the client names and draws the profile as it ends; bound it with --duration instead of --detach")
	}
	if o.OutputFormat == "text" {
		o.OutputFormat = "top"
	}
	for _, f := range profileFormats {
		if o.OutputFormat == f {
			return nil
		}
	}
	return codef(ExitUsage, "with --cpu, --output must be one of %s, not %q", strings.Join(profileFormats, ", "), o.OutputFormat)
}

// checkProfileOutput refuses a binary profile to a terminal, before
// anything is injected.
func (o *TraceOptions) checkProfileOutput() error {
	if o.OutputFormat != "pprof" || o.OutputFile != "" {
		return nil
	}
	if f, ok := o.Out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return codef(ExitUsage, "-o pprof writes a binary profile, and stdout is a terminal: give --output-file cpu.pprof (then `go tool pprof -top cpu.pprof`), or redirect stdout")
	}
	return nil
}

// showProfile reads the profile each pod's runner printed after the maps
// line, merges them (each stack keeps its pod) and writes them as -o says.
// A pod whose profile did not come is left out (its error is its own).
// container, when known, labels the pprof samples.
func (o *TraceOptions) showProfile(podNames, kept []string, found []bool, container string) error {
	var names []string
	var profiles []*stacks.Profile
	for i, k := range kept {
		if !found[i] {
			continue
		}
		p, err := stacks.Read(k)
		if err != nil {
			return codef(ExitInternal, "pod %s: %w", podNames[i], err)
		}
		names, profiles = append(names, podNames[i]), append(profiles, p)
	}
	if len(profiles) == 0 {
		return nil
	}
	p := stacks.Merge(names, profiles)
	if len(names) > 1 {
		o.progress("profiles of %d pods merged (%s)", len(names), strings.Join(names, ", "))
	}
	if l := p.Lost; l.UserStacks+l.KernelStacks+l.Samples+l.Unnamed > 0 {
		o.progress("of %d samples: %d user and %d kernel stacks not recorded, %d samples dropped, %d of processes that exited before they could be named",
			p.Samples(), l.UserStacks, l.KernelStacks, l.Samples, l.Unnamed)
	}
	return o.writeProfile(o.Out, p, strings.Join(names, ", "), container)
}

// writeProfile writes p to w in the -o format.
func (o *TraceOptions) writeProfile(w io.Writer, p *stacks.Profile, pods, container string) error {
	var err error
	switch o.OutputFormat {
	case "svg":
		err = p.WriteSVG(w, fmt.Sprintf("CPU of %s: %d samples at %d Hz over %v", pods, p.Samples(), p.Hz, p.Duration.Round(time.Second)), o.PerPod)
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
		o.progress("%s profile of %d samples written to %s", o.OutputFormat, p.Samples(), o.OutputFile)
	}
	return nil
}
