package runner

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/trace-debug/kubectl-trace-debug/bpf/goproc"
	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
	"github.com/trace-debug/kubectl-trace-debug/bpf/stacks"
)

// heapEngine is the memory profile (--heap, --alloc): the memory-profile
// records of every Go process of the target, read from outside (package
// goproc: nothing stopped, nothing written), named in the pod and scaled
// as Go scales its own heap profile, written after protocol.MapsLine as
// the JSON lines of package stacks (a profile marked Heap). --heap reads
// once, as of each process's last garbage collection, and ends; --alloc
// reads when it starts and when it stops, and gives what was allocated
// between: every allocation recorded in the window, whether a collection
// has published it yet or not.
type heapEngine struct{ o Options }

func (heapEngine) NeedsKernelTypes() bool { return false }
func (heapEngine) PeakMemory() uint64     { return nativePeakMemory }

// Start opens the target's Go processes (and, for --alloc, reads them a
// first time).
func (e heapEngine) Start(_ context.Context, t Target) (Trace, error) {
	o := e.o
	pids, err := namespacePIDs(t.ProcRoot, t.PID)
	if err != nil {
		return nil, &failure{protocol.ExitTargetNotFound, err}
	}
	gp := openGoProcesses(t.ProcRoot, pids, o.say, func(pid int, name string) {
		o.say("process %d (%s) is not Go: it keeps no Go memory profile", pid, name)
	})
	if len(gp.procs) == 0 {
		o.say("no Go process of the target could be read (%d processes looked at; each one's reason is above)", len(pids))
		return nil, &failure{protocol.ExitNoGoProcess, errors.New("no Go process")}
	}
	var first map[int]goproc.MemProfile
	if o.Session.Alloc {
		first = readMemProfiles(gp, o.say)
	}
	started := time.Now()
	tr := newNativeTrace(1, o.StopGrace, func() int {
		defer gp.close()
		readAt := time.Now()
		last := readMemProfiles(gp, o.say)
		if len(last) == 0 {
			o.say("no Go process of the target keeps a memory profile (each one's reason is above): importing net/http/pprof or runtime/pprof in the program is enough to keep it")
			return protocol.ExitNoMemProfile
		}
		p := heapProfile(gp, first, last)
		if o.Session.Alloc {
			p.Duration = readAt.Sub(started)
		}
		fmt.Fprintln(o.Stdout, protocol.MapsLine) // the client reads the profile after it
		if err := stacks.Write(o.Stdout, p); err != nil {
			o.say("write the profile: %v", err)
			return 1
		}
		o.say("the memory profiles of %d Go processes read in %v: %d stacks; peak memory of the runner: %s", len(last), time.Since(readAt).Round(time.Millisecond), len(p.Stacks), peakMemory())
		return 0
	})
	if o.Session.Alloc {
		o.announce(1, fmt.Sprintf("Reading the memory profiles of %d Go processes now and when the session ends (what is allocated between)... Hit Ctrl-C to end.", len(gp.procs)))
	} else {
		tr.Stop() // one reading: done once written
	}
	return tr, nil
}

// readMemProfiles reads each process's memory profile, saying why for
// each that has none.
func readMemProfiles(gp goProcesses, say func(string, ...any)) map[int]goproc.MemProfile {
	out := map[int]goproc.MemProfile{}
	for pid, p := range gp.procs {
		mp, err := p.MemProfile()
		if err != nil {
			say("process %d (%s): %v", pid, gp.names[pid], err)
			continue
		}
		out[pid] = mp
	}
	return out
}

// heapProfile is the profile of the last readings (and, with first, of
// what was allocated since those): a stack per record, named, the
// runtime's own allocation frames left out as Go's heap profile leaves
// them, its values scaled.
func heapProfile(gp goProcesses, first, last map[int]goproc.MemProfile) *stacks.Profile {
	p := &stacks.Profile{Heap: &stacks.Heap{Alloc: first != nil}}
	for pid, mp := range last {
		p.Heap.Rate = mp.Rate
		before := map[string]goproc.MemRecord{} // every allocation recorded at the first reading, by stack
		if first != nil {
			for _, r := range first[pid].Records {
				k := stackKey(r.Stack)
				b := before[k]
				b.AllocObjects, b.AllocBytes = b.AllocObjects+r.AllocObjects+r.RecentObjects, b.AllocBytes+r.AllocBytes+r.RecentBytes
				before[k] = b
			}
		}
		for _, r := range mp.Records {
			v := stacks.HeapValues(r.AllocObjects, r.AllocBytes, r.FreeObjects, r.FreeBytes, mp.Rate)
			count := v[stacks.InuseSpace]
			if first != nil {
				b := before[stackKey(r.Stack)]
				delete(before, stackKey(r.Stack)) // a stack's records count once against it
				v[stacks.AllocObjects], v[stacks.AllocSpace] = 0, 0
				if n := r.AllocObjects + r.RecentObjects - b.AllocObjects; n > 0 { // recorded since, published or not
					v[stacks.AllocObjects], v[stacks.AllocSpace] = stacks.ScaleHeapSample(n, (r.AllocBytes+r.RecentBytes-b.AllocBytes)/n, mp.Rate)
				}
				count = v[stacks.AllocSpace]
			}
			if v[stacks.AllocObjects] == 0 && v[stacks.InuseObjects] == 0 {
				continue
			}
			p.Stacks = append(p.Stacks, stacks.Stack{Frames: heapFrames(gp.procs[pid], r.Stack), Count: uint64(max(count, 0)), Values: v, Process: gp.names[pid]})
		}
	}
	return p
}

// stackKey is a record's stack as a map key.
func stackKey(pcs []uint64) string {
	b := make([]byte, 0, 8*len(pcs))
	for _, pc := range pcs {
		b = binary.LittleEndian.AppendUint64(b, pc)
	}
	return string(b)
}

// heapFrames names a record's stack (return addresses, innermost first),
// leaving out its leading frames in the runtime (the allocator's own), as
// runtime/pprof does.
func heapFrames(p *goproc.Process, pcs []uint64) []stacks.Frame {
	var frames []stacks.Frame
	for _, pc := range pcs {
		frames = append(frames, p.Names.Frames(pc-1)...)
	}
	for i, f := range frames {
		if !strings.HasPrefix(f.Func, "runtime.") {
			return frames[i:]
		}
	}
	return frames
}
