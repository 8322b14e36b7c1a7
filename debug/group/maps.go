package group

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/trace-debug/kubectl-trace-debug/bpf/mapmerge"
	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
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
}

// show prints the maps the members printed at the end to out: merged
// into one set (as one tracer that saw every pod's events would print
// them), the maps that cannot be merged and any other line per pod; with
// PerPod, each pod's as it printed them. merged is told how many pods'
// maps are merged, before they are printed.
func (m Maps) show(out io.Writer, members []*Member, merged func(pods int)) error {
	// bpftrace's maps come in the user's format; the native engines'
	// summaries always as JSON, with maps of their own.
	parse, write := mapmerge.ParseText, mapmerge.WriteText
	if m.JSON || m.Native {
		parse = mapmerge.ParseJSON
	}
	if m.JSON {
		write = mapmerge.WriteJSON
	}
	kinds := mapmerge.Kinds(m.Program)
	if m.Native {
		kinds = mapmerge.KindsOf(protocol.NativeMaps)
	}
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
		return nil
	}
	dumps := make([]*mapmerge.Dump, len(members))
	captured := 0
	for i, mb := range members {
		kept, found := mb.out.Kept()
		dumps[i] = parse(kept)
		if found {
			captured++
		}
	}
	if captured == 0 {
		return nil
	}
	all, perPod := mapmerge.Merge(dumps, kinds)
	if len(all.Maps) > 0 {
		if merged != nil {
			merged(captured)
		}
		if !m.JSON {
			fmt.Fprintln(out)
		}
		if err := write(out, all, kinds); err != nil {
			return err
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
	return nil
}
