package group

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/trace-debug/kubectl-trace-debug/bpf/mapmerge"
	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
	"github.com/trace-debug/kubectl-trace-debug/debug/pods"
	"github.com/trace-debug/kubectl-trace-debug/internal/lines"
)

// Final is a session's stdout split at the runner's protocol.MapsLine: the
// lines before it go to Live at once; what the runner prints at the end,
// after it (the final maps, a profile), is kept.
type Final struct {
	Live      io.Writer
	capturing bool
	buf       lines.Buffer
	final     bytes.Buffer
}

// Kept is what came after the maps line, and whether the maps line came.
func (p *Final) Kept() (string, bool) { return p.final.String(), p.capturing }

// Close passes on or keeps an unfinished last line.
func (p *Final) Close() {
	if rest := p.buf.Rest(); p.capturing {
		p.final.Write(rest)
	} else if len(rest) > 0 {
		_, _ = p.Live.Write(append(rest, '\n'))
	}
}

// Write passes lines on until the maps line, and keeps what follows it.
func (p *Final) Write(b []byte) (int, error) {
	err := p.buf.Lines(b, func(line []byte) error {
		switch {
		case p.capturing:
			p.final.Write(line)
			p.final.WriteByte('\n')
		case bytes.Contains(line, []byte(protocol.MapsLine)):
			p.capturing = true
		default:
			_, err := p.Live.Write(append(line, '\n'))
			return err
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return len(b), nil
}

// Maps says how a session's final maps are read and shown: its program
// (its maps' aggregations), its engine and format.
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

// Read merges what pods printed after the maps line (kept) into one set
// of maps, as one tracer that saw every pod's events would have printed
// them (nil when no pod printed the maps line).
func (m Maps) Read(kept []string) *mapmerge.Dump {
	var dumps []*mapmerge.Dump
	for _, k := range kept {
		dumps = append(dumps, m.parse()(k))
	}
	if len(dumps) == 0 {
		return nil
	}
	all, _ := mapmerge.Merge(dumps, m.kinds())
	return all
}

// ShowOne prints one pod's final maps (what it printed after the maps
// line) to out as the pod printed them, a native engine's summary as text
// unless the format is JSON (the lines that are no maps after it), and
// returns them read.
func (m Maps) ShowOne(out io.Writer, kept string) (*mapmerge.Dump, error) {
	d := m.parse()(kept)
	if m.Native && !m.JSON {
		if err := mapmerge.WriteText(out, d, m.kinds()); err != nil {
			return d, err
		}
		for _, line := range d.Other { // a session log's runner lines, after the summary
			if _, err := fmt.Fprintln(out, line); err != nil {
				return d, err
			}
		}
		return d, nil
	}
	_, err := io.WriteString(out, kept)
	return d, err
}

// WriteText writes d as bpftrace's text output prints it.
func (m Maps) WriteText(w io.Writer, d *mapmerge.Dump) error {
	return mapmerge.WriteText(w, d, m.kinds())
}

// show prints the maps the members printed at the end to out: merged
// into one set (as one tracer that saw every pod's events would print
// them), the maps that cannot be merged and any other line per pod; with
// PerPod, each pod's as it printed them. merged is told how many pods'
// maps are merged, before they are printed. It returns the merged maps
// (nil when no pod printed them).
func (m Maps) show(out io.Writer, members []*Member, merged func(pods int)) (*mapmerge.Dump, error) {
	write := mapmerge.WriteText
	if m.JSON {
		write = mapmerge.WriteJSON
	}
	kinds := m.kinds()
	dumps := make([]*mapmerge.Dump, len(members))
	captured := 0
	for i, mb := range members {
		kept, found := mb.out.Kept()
		dumps[i] = m.parse()(kept)
		if found {
			captured++
		}
	}
	if captured == 0 {
		return nil, nil
	}
	all, perPod := mapmerge.Merge(dumps, kinds)
	if m.PerPod {
		for _, mb := range members {
			kept, _ := mb.out.Kept()
			if m.Native && !m.JSON {
				_ = mapmerge.WriteText(mb.live, mapmerge.ParseJSON(kept), kinds)
			} else {
				_, _ = io.WriteString(mb.live, kept)
			}
			mb.live.Flush()
		}
		return all, nil
	}
	if len(all.Maps) > 0 {
		if merged != nil {
			merged(captured)
		}
		if !m.JSON {
			fmt.Fprintln(out)
		}
		if err := write(out, all, kinds); err != nil {
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
			_, _ = members[i].live.Write([]byte(strings.Join(rest, "\n") + "\n"))
			members[i].live.Flush()
		}
	}
	return all, nil
}
