package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cilium/ebpf/ringbuf"

	"github.com/trace-debug/kubectl-trace-debug/bpf/gofunc"
	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
)

// goFuncEngine is the native Go function tracer (--func): every call of the
// functions is printed with its results and duration as it returns, and the
// summary (calls, errors, latency histogram) when the session ends.
type goFuncEngine struct{ o Options }

func (goFuncEngine) NeedsKernelTypes() bool { return false }
func (goFuncEngine) PeakMemory() uint64     { return nativePeakMemory }

// Start resolves the functions in the target's executable and attaches.
func (e goFuncEngine) Start(_ context.Context, t Target) (Trace, error) {
	o := e.o
	exe := filepath.Join(t.ProcRoot, strconv.Itoa(t.PID), "exe")
	funcs, err := gofunc.Resolve(exe, o.Session.Funcs)
	if err != nil {
		return nil, err
	}
	tr, err := gofunc.Start(exe, filepath.Join(t.ProcRoot, strconv.Itoa(t.PID), "ns/pid"), funcs)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(funcs))
	for i, f := range funcs {
		names[i] = f.Name
		if f.Declared {
			o.say("%s has no DWARF: its results are taken as declared, (%s)", f.Name, strings.Join(f.Results, ", "))
		}
		if seen, why := f.ErrorsSeen(); !seen {
			o.say("@errors leaves out %s: %s", f.Name, why)
		}
	}
	probes := tr.Probes()
	o.announce(probes, fmt.Sprintf("Tracing %s (%d probes at entries and returns)... Hit Ctrl-C to end.", strings.Join(names, ", "), probes))

	var summary gofunc.Summary
	read := make(chan error, 1)
	go func() { read <- o.printCalls(tr, &summary) }()
	return newNativeTrace(probes, o.StopGrace, func() int {
		detachErr := tr.Detach() // no call after this; printCalls prints the rest, then returns
		err := errors.Join(<-read, detachErr, tr.Close())
		if err != nil {
			o.say("%v", err)
			return 1
		}
		if o.Session.MarkMaps { // the client merges a group's summaries: JSON, after the maps line
			fmt.Fprintln(o.Stdout, protocol.MapsLine)
		}
		if err := writeGoSummary(o.Stdout, &summary, o.Session.JSON || o.Session.MarkMaps); err != nil {
			o.say("write the summary: %v", err)
			return 1
		}
		o.say("peak memory of the runner: %s", peakMemory())
		return 0
	}), nil
}

// printCalls prints each call until the tracer is detached and drained.
func (o Options) printCalls(tr *gofunc.Tracer, summary *gofunc.Summary) error {
	for {
		call, err := tr.Next()
		if errors.Is(err, gofunc.ErrDrained) || errors.Is(err, ringbuf.ErrClosed) {
			return nil
		}
		if err != nil {
			return err
		}
		results, errored := call.Results()
		summary.Add(call, errored)
		if o.Session.JSON {
			b, err := json.Marshal(map[string]any{"type": "call", "data": map[string]any{
				"func": call.Func.Name, "pid": call.PID, "results": results, "error": errored, "duration_ns": call.Duration.Nanoseconds(),
			}})
			if err != nil {
				return err
			}
			fmt.Fprintf(o.Stdout, "%s\n", b)
			continue
		}
		fmt.Fprintf(o.Stdout, "%s = %s  (%v, pid %d)\n", call.Func.Name, strings.Join(results, ", "), call.Duration, call.PID)
	}
}

// writeGoSummary prints the summary as bpftrace prints maps and histograms,
// or as JSON map objects.
func writeGoSummary(w io.Writer, s *gofunc.Summary, asJSON bool) error {
	if !asJSON {
		_, err := io.WriteString(w, s.Text())
		return err
	}
	names, stats := s.Funcs()
	calls, errs := map[string]uint64{}, map[string]uint64{}
	hists := map[string][]gofunc.Bucket{}
	for _, n := range names {
		calls[n], hists[n] = stats[n].Calls, stats[n].Buckets()
		if stats[n].ErrorsSeen {
			errs[n] = stats[n].Errors
		}
	}
	if err := writeJSONMaps(w, jsonMap{"@calls", calls}, jsonMap{"@errors", errs}); err != nil {
		return err
	}
	b, err := json.Marshal(map[string]any{"type": "hist", "data": map[string]any{"@latency_us": hists}})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
