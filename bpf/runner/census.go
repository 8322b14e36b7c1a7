package runner

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
	"github.com/trace-debug/kubectl-trace-debug/bpf/syscalls"
)

// censusEngine is the native syscall census of the target's PID namespace,
// ended like a bpftrace session and summarised in bpftrace's shapes (a text
// table, or JSON map objects).
type censusEngine struct{ o Options }

func (censusEngine) NeedsKernelTypes() bool { return false }
func (censusEngine) PeakMemory() uint64     { return nativePeakMemory }

// Start attaches the census.
func (e censusEngine) Start(_ context.Context, t Target) (Trace, error) {
	o := e.o
	c, err := syscalls.Start(syscalls.Target{
		PIDNamespace: filepath.Join(t.ProcRoot, strconv.Itoa(t.PID), "ns/pid"),
		Self:         uint32(os.Getpid()),
	})
	if err != nil {
		return nil, err
	}
	o.announce(1, "Counting the syscalls of the target's processes... Hit Ctrl-C to end.")
	return newNativeTrace(1, o.StopGrace, func() int {
		defer c.Close()
		counts, dropped, err := c.Counts()
		if err != nil {
			o.say("%v", err)
			return 1
		}
		if o.Session.MarkMaps { // the client merges a group's censuses: JSON, after the maps line
			fmt.Fprintln(o.Stdout, protocol.MapsLine)
		}
		if err := writeCensus(o.Stdout, counts, o.Session.JSON || o.Session.MarkMaps); err != nil {
			o.say("write the summary: %v", err)
			return 1
		}
		if dropped > 0 {
			o.say("%d (syscall, thread) pairs did not fit in the census map and were not counted", dropped)
		}
		o.say("peak memory of the runner: %s", peakMemory())
		return 0
	}), nil
}

// writeCensus prints the counts: a table (by syscall and thread, then by
// syscall), or JSON map objects as bpftrace -f json writes them.
func writeCensus(w io.Writer, counts []syscalls.Count, asJSON bool) error {
	bySyscall := map[string]uint64{}
	byThread := map[string]uint64{}
	var total uint64
	for _, c := range counts {
		bySyscall[c.Name] += c.Calls
		byThread[c.Name+","+c.Comm] += c.Calls
		total += c.Calls
	}
	if asJSON {
		return writeJSONMaps(w, jsonMap{"@syscalls", bySyscall}, jsonMap{"@syscalls_by_thread", byThread})
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "\nSYSCALL\tTHREAD\tCALLS")
	for _, c := range counts {
		fmt.Fprintf(tw, "%s\t%s\t%d\n", c.Name, c.Comm, c.Calls)
	}
	fmt.Fprintf(tw, "total\t\t%d\n", total)
	return tw.Flush()
}

// peakMemory is the runner's peak resident memory (VmHWM).
func peakMemory() string { return vmHWM("/proc", os.Getpid()) }

// statusField is the value of a field of /proc/PID/status, e.g. "VmHWM:".
func statusField(status, field string) string {
	for _, line := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(line, field); ok {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}
