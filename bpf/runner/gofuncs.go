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

// runGoFuncs is the native Go function tracer's session (--func): every call
// of the functions is printed with its results and duration as it returns,
// and the summary (calls, errors, latency histogram) when the session ends.
func (o Options) runGoFuncs(ctx context.Context, control <-chan string, pid int, say func(string, ...any)) int {
	exe := filepath.Join(o.ProcRoot, strconv.Itoa(pid), "exe")
	funcs, err := gofunc.Resolve(exe, o.Session.Funcs)
	if err != nil {
		say("%v", err)
		return protocol.ExitProgramRejected
	}
	tr, err := gofunc.Start(exe, filepath.Join(o.ProcRoot, strconv.Itoa(pid), "ns/pid"), funcs)
	if err != nil {
		say("%v", err)
		return protocol.ExitProgramRejected
	}
	if o.Session.JSON {
		fmt.Fprintf(o.Stdout, "{\"type\": \"attached_probes\", \"data\": {\"probes\": %d}}\n", tr.Probes())
	} else {
		names := make([]string, len(funcs))
		for i, f := range funcs {
			names[i] = f.Name
		}
		fmt.Fprintf(o.Stdout, "Tracing %s (%d probes at entries and returns)... Hit Ctrl-C to end.\n", strings.Join(names, ", "), tr.Probes())
	}
	fmt.Fprintln(o.Stderr, protocol.ReadyLine(tr.Probes()))

	var summary gofunc.Summary
	read := make(chan error, 1)
	go func() { read <- o.printCalls(tr, &summary) }()
	o.awaitStop(ctx, control, say)
	closeErr := tr.Close() // detaches the probes; printCalls then returns
	if err := errors.Join(<-read, closeErr); err != nil {
		say("%v", err)
		return 1
	}
	if err := writeGoSummary(o.Stdout, &summary, o.Session.JSON); err != nil {
		say("write the summary: %v", err)
		return 1
	}
	say("peak memory of the runner: %s", peakMemory())
	return 0
}

// printCalls prints each call until the tracer is closed.
func (o Options) printCalls(tr *gofunc.Tracer, summary *gofunc.Summary) error {
	for {
		call, err := tr.Next()
		if errors.Is(err, ringbuf.ErrClosed) {
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
		calls[n], errs[n], hists[n] = stats[n].Calls, stats[n].Errors, stats[n].Buckets()
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
