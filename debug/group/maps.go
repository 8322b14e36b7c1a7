package group

import (
	"fmt"
	"io"
	"strings"

	"github.com/trace-debug/kubectl-trace-debug/bpf/mapmerge"
	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
	"github.com/trace-debug/kubectl-trace-debug/debug/pods"
)

// Maps is the ending of a session that prints maps (a bpftrace program,
// --syscalls, --func): its final maps, read as its program (its maps'
// aggregations), engine and format say, and shown: one pod's as it
// printed them, several pods' merged (or each pod's, PerPod).
type Maps struct {
	// Program is the session's bpftrace program ("" for a native engine).
	Program string
	// Native is set for the native engines, whose summaries are JSON with
	// maps of their own.
	Native bool
	// JSON is the output format; PerPod prints each pod's maps as it
	// printed them instead of merging them.
	JSON, PerPod bool
	// Aggregations, when set, are the maps' aggregation functions (a
	// program sent on stdin, whose text is not at hand).
	Aggregations map[string]string
	// Quiet reads the maps and shows nothing (stop: the session's output
	// is its log's).
	Quiet bool
	// Merged, when set, is told how many pods' maps are merged, before
	// they are printed.
	Merged func(pods int)
}

// SessionMaps says how a found session's final maps are read and shown.
func SessionMaps(info pods.SessionInfo) Maps {
	m := Maps{Program: info.Program, Native: info.Native(), JSON: info.JSON}
	if info.ProgramOnStdin {
		m.Aggregations = info.Maps
	}
	return m
}

// parse is how the session's final maps are read: bpftrace's in the user's
// format, the native engines' summaries always as JSON.
func (m Maps) parse() func(string) *mapmerge.Dump {
	if m.JSON || m.Native {
		return mapmerge.ParseJSON
	}
	return mapmerge.ParseText
}

// kinds are the aggregations of the session's maps.
func (m Maps) kinds() map[string]mapmerge.Kind {
	switch {
	case m.Native:
		return mapmerge.KindsOf(protocol.NativeMaps)
	case m.Aggregations != nil:
		return mapmerge.KindsOf(m.Aggregations)
	}
	return mapmerge.Kinds(m.Program)
}

// WriteText writes d as bpftrace's text output prints it.
func (m Maps) WriteText(w io.Writer, d *mapmerge.Dump) error {
	return mapmerge.WriteText(w, d, m.kinds())
}

// End reads the maps the pods printed at the end and shows them: one
// pod's as it printed it (a native summary as text unless the format is
// JSON); several pods' merged into one set, as one tracer that saw every
// pod's events would print them, with the maps that cannot be merged and
// any other line shown per pod (with PerPod, each pod's as it printed
// them). It returns the maps read: one pod's as they are, several pods'
// merged (nil when no pod printed the maps line).
func (m Maps) End(e Ends) (*mapmerge.Dump, error) {
	d, err := m.end(e)
	if err != nil {
		return d, fmt.Errorf("write the final maps: %w", err)
	}
	return d, nil
}

// end is End, but for its error's wording.
func (m Maps) end(e Ends) (*mapmerge.Dump, error) {
	kinds := m.kinds()
	dumps := make([]*mapmerge.Dump, len(e.Pods))
	found := 0
	for i, p := range e.Pods {
		dumps[i] = m.parse()(p.Kept)
		if p.Found {
			found++
		}
	}
	switch {
	case found == 0:
		return nil, nil
	case e.One && !m.Quiet:
		return dumps[0], m.asPrinted(e.Pods[0].Lines, dumps[0], e.Pods[0].Kept)
	case e.One:
		return dumps[0], nil
	}
	all, perPod := mapmerge.Merge(dumps, kinds)
	switch {
	case m.Quiet:
		return all, nil
	case m.PerPod:
		for i, p := range e.Pods {
			if err := m.asPrinted(p.Lines, dumps[i], p.Kept); err != nil {
				return all, err
			}
		}
		return all, nil
	}
	if len(all.Maps) > 0 {
		if m.Merged != nil {
			m.Merged(found)
		}
		if !m.JSON {
			fmt.Fprintln(e.Out)
		}
		write := mapmerge.WriteText
		if m.JSON {
			write = mapmerge.WriteJSON
		}
		if err := write(e.Out, all, kinds); err != nil {
			return all, err
		}
	}
	for i, d := range dumps {
		var rest []string
		for _, name := range perPod {
			rest = append(rest, d.Raw[name]...)
		}
		rest = append(rest, d.Other...)
		if len(rest) > 0 {
			if _, err := io.WriteString(e.Pods[i].Lines, strings.Join(rest, "\n")+"\n"); err != nil {
				return all, err
			}
		}
	}
	return all, nil
}

// asPrinted shows one pod's final maps d (kept, as it printed them) to w:
// a native engine's summary as text unless the format is JSON, the lines
// that are no maps after it.
func (m Maps) asPrinted(w io.Writer, d *mapmerge.Dump, kept string) error {
	if !m.Native || m.JSON {
		_, err := io.WriteString(w, kept)
		return err
	}
	if err := mapmerge.WriteText(w, d, m.kinds()); err != nil {
		return err
	}
	for _, line := range d.Other { // a session log's runner lines, after the summary
		if _, err := fmt.Fprintln(w, line); err != nil {
			return err
		}
	}
	return nil
}
