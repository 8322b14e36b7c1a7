package debug

import (
	"io"

	"github.com/trace-debug/kubectl-trace-debug/bpf/goroutines"
	"github.com/trace-debug/kubectl-trace-debug/bpf/mapmerge"
	"github.com/trace-debug/kubectl-trace-debug/debug/group"
)

// goroutinesEnding is how --goroutines ends: the dump each pod's runner
// printed after the maps line, merged (each group keeps its pod with
// --per-pod), written as -o says (text, json, pprof); its counts are the
// maps --assert reads (@goroutines, @states). A pod whose dump did not
// come is left out (its error is its own).
type goroutinesEnding struct {
	o *TraceOptions
	// out is where the dump goes (stdout, or --output-file).
	out io.Writer
}

// End shows the pods' goroutines and returns their counts as maps.
func (e *goroutinesEnding) End(ends group.Ends) (*mapmerge.Dump, error) {
	o := e.o
	var pods []string
	var dumps []*goroutines.Dump
	for _, pe := range ends.Pods {
		if !pe.Found {
			continue
		}
		d, err := goroutines.Read(pe.Kept)
		if err != nil {
			return nil, codef(ExitInternal, "pod %s: %w", pe.Pod, err)
		}
		pods, dumps = append(pods, pe.Pod), append(dumps, d)
	}
	if len(dumps) == 0 {
		return nil, nil
	}
	d := goroutines.Merge(pods, dumps, o.PerPod)
	if len(pods) > 1 {
		o.progress("goroutines of %d pods merged: %d", len(pods), d.Total)
	}
	var err error
	switch o.OutputFormat {
	case "json":
		err = d.WriteJSON(e.out)
	case "pprof":
		err = d.PProf().Write(e.out) // gzipped, as go tool pprof reads it
	default:
		err = d.WriteText(e.out)
	}
	if err != nil {
		return nil, codef(ExitInternal, "write the goroutines: %w", err)
	}
	return d.Maps(), nil
}
