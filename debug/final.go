package debug

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/trace-debug/kubectl-trace-debug/bpf/mapmerge"
	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
)

// podOutput is a group pod's stdout: the lines before the runner's
// protocol.MapsLine go out at once, marked with their pod; the maps printed
// at the end, after it, are kept to be merged.
type podOutput struct {
	live      *podLines
	capturing bool
	buf       lineBuffer
	final     bytes.Buffer
}

// Write passes lines on until the maps line, and keeps what follows it.
func (p *podOutput) Write(b []byte) (int, error) {
	err := p.buf.lines(b, func(line []byte) error {
		switch {
		case p.capturing:
			p.final.Write(line)
			p.final.WriteByte('\n')
		case bytes.Contains(line, []byte(protocol.MapsLine)):
			p.capturing = true
		default:
			_, err := p.live.Write(append(line, '\n'))
			return err
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return len(b), nil
}

// finalMaps says how a group's final maps are read and shown: the
// session's program (its maps' aggregations), its engine and format.
type finalMaps struct {
	program              string
	native, json, perPod bool
	out                  io.Writer
	progress             func(format string, a ...any)
}

// finalMaps is how this trace's group shows its final maps.
func (o *TraceOptions) finalMaps() finalMaps {
	return finalMaps{program: o.Program, native: o.Syscalls || len(o.Funcs) > 0, json: o.OutputFormat == "json",
		perPod: o.PerPod, out: o.Out, progress: o.progress}
}

// show prints the maps the pods printed at the end: merged into one set
// (as one tracer that saw every pod's events would print them), the maps
// that cannot be merged and any other line per pod; with perPod, each
// pod's as it printed them.
func (f finalMaps) show(outs []*podOutput) error {
	for _, p := range outs { // an unfinished last line
		if rest := p.buf.rest(); p.capturing {
			p.final.Write(rest)
		} else if len(rest) > 0 {
			_, _ = p.live.Write(rest)
		}
	}
	// bpftrace's maps come in the user's format; the native engines'
	// summaries always as JSON, with maps of their own.
	parse, write := mapmerge.ParseText, mapmerge.WriteText
	if f.json || f.native {
		parse = mapmerge.ParseJSON
	}
	if f.json {
		write = mapmerge.WriteJSON
	}
	kinds := mapmerge.Kinds(f.program)
	if f.native {
		kinds = mapmerge.KindsOf(protocol.NativeMaps)
	}
	if f.perPod {
		for _, p := range outs {
			if f.native && !f.json {
				d := mapmerge.ParseJSON(p.final.String())
				_ = mapmerge.WriteText(p.live, d, kinds)
			} else {
				_, _ = p.live.Write(p.final.Bytes())
			}
			p.live.Flush()
		}
		return nil
	}
	dumps := make([]*mapmerge.Dump, len(outs))
	captured := 0
	for i, p := range outs {
		dumps[i] = parse(p.final.String())
		if p.capturing {
			captured++
		}
	}
	if captured == 0 {
		return nil
	}
	merged, perPod := mapmerge.Merge(dumps, kinds)
	if len(merged.Maps) > 0 {
		f.progress("maps merged across %d pods (--per-pod prints each pod's)", captured)
		if !f.json {
			fmt.Fprintln(f.out)
		}
		if err := write(f.out, merged, kinds); err != nil {
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
			_, _ = outs[i].live.Write([]byte(strings.Join(rest, "\n") + "\n"))
			outs[i].live.Flush()
		}
	}
	return nil
}
