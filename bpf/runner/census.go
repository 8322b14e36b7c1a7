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

// runCensus is the native engine's session: the syscall census of the
// target's PID namespace, ended like a bpftrace session and summarised in
// bpftrace's shapes (a text table, or JSON map objects).
func (o Options) runCensus(ctx context.Context, control <-chan string, pid int, say func(string, ...any)) int {
	c, err := syscalls.Start(syscalls.Target{
		PIDNamespace: filepath.Join(o.ProcRoot, strconv.Itoa(pid), "ns/pid"),
		Self:         uint32(os.Getpid()),
	})
	if err != nil {
		say("%v", err)
		return protocol.ExitProgramRejected
	}
	defer c.Close()
	if o.Session.JSON {
		fmt.Fprintln(o.Stdout, `{"type": "attached_probes", "data": {"probes": 1}}`)
	} else {
		fmt.Fprintln(o.Stdout, "Counting the syscalls of the target's processes... Hit Ctrl-C to end.")
	}
	fmt.Fprintln(o.Stderr, protocol.ReadyLine(1))

	o.awaitStop(ctx, control, say)
	counts, dropped, err := c.Counts()
	if err != nil {
		say("%v", err)
		return 1
	}
	if err := writeCensus(o.Stdout, counts, o.Session.JSON); err != nil {
		say("write the summary: %v", err)
		return 1
	}
	if dropped > 0 {
		say("%d (syscall, thread) pairs did not fit in the census map and were not counted", dropped)
	}
	say("peak memory of the runner: %s", peakMemory())
	return 0
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
func peakMemory() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}
