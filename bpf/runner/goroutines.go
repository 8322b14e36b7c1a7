package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/trace-debug/kubectl-trace-debug/bpf/goproc"
	"github.com/trace-debug/kubectl-trace-debug/bpf/goroutines"
	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
	"github.com/trace-debug/kubectl-trace-debug/bpf/stacks"
)

// goroutinesEngine is the goroutine dump (--goroutines): every Go process
// of the target's PID namespace read once from outside (package goproc:
// nothing stopped, nothing written), its goroutines grouped by state and
// stack and named in the pod, written after protocol.MapsLine as the JSON
// of package goroutines, for the client to show. It ends by itself.
type goroutinesEngine struct{ o Options }

func (goroutinesEngine) NeedsKernelTypes() bool { return false }
func (goroutinesEngine) PeakMemory() uint64     { return nativePeakMemory }

// Start reads the goroutines at once; the trace ends when they are written.
func (e goroutinesEngine) Start(_ context.Context, t Target) (Trace, error) {
	o := e.o
	pids, err := namespacePIDs(t.ProcRoot, t.PID)
	if err != nil {
		return nil, &failure{protocol.ExitTargetNotFound, err}
	}
	tr := newNativeTrace(1, o.StopGrace, func() int {
		start := time.Now()
		d, read := readGoroutines(t.ProcRoot, pids, o.say)
		if read == 0 {
			o.say("no Go process of the target could be read (%d processes looked at; each one's reason is above)", len(pids))
			return protocol.ExitNoGoProcess
		}
		fmt.Fprintln(o.Stdout, protocol.MapsLine) // the client reads the dump after it
		if err := goroutines.Write(o.Stdout, d); err != nil {
			o.say("write the goroutines: %v", err)
			return 1
		}
		o.say("%d goroutines of %d Go processes read in %v (%d moved while read, left out); peak memory of the runner: %s",
			d.Total, read, time.Since(start).Round(time.Millisecond), d.Dropped, peakMemory())
		return 0
	})
	tr.Stop() // one reading: done once written
	return tr, nil
}

// namespacePIDs are the processes of procRoot in the PID namespace of
// process pid (the target's), the runner aside.
func namespacePIDs(procRoot string, pid int) ([]int, error) {
	var want syscall.Stat_t
	if err := syscall.Stat(filepath.Join(procRoot, strconv.Itoa(pid), "ns/pid"), &want); err != nil {
		return nil, fmt.Errorf("read the target's PID namespace: %w", err)
	}
	entries, err := os.ReadDir(procRoot)
	if err != nil {
		return nil, err
	}
	var out []int
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil || p == os.Getpid() {
			continue
		}
		var st syscall.Stat_t
		if syscall.Stat(filepath.Join(procRoot, e.Name(), "ns/pid"), &st) == nil && st.Ino == want.Ino && st.Dev == want.Dev {
			out = append(out, p)
		}
	}
	return out, nil
}

// goProcesses are the Go processes of pids, opened for reading (package
// goproc), with every process's name (its comm); a process that is not Go
// is passed over (notGo is told of it), one that is Go and cannot be read
// is said (say) and listed in unread.
type goProcesses struct {
	procs  map[int]*goproc.Process
	names  map[int]string
	unread []string
}

// openGoProcesses opens the Go processes of pids under procRoot.
func openGoProcesses(procRoot string, pids []int, say func(string, ...any), notGo func(pid int, name string)) goProcesses {
	g := goProcesses{procs: map[int]*goproc.Process{}, names: map[int]string{}}
	for _, pid := range pids {
		comm, _ := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "comm"))
		name := strings.TrimSpace(string(comm))
		g.names[pid] = name
		p, err := goproc.Open(procRoot, pid)
		switch {
		case errors.Is(err, goproc.ErrNotGo):
			if notGo != nil {
				notGo(pid, name)
			}
		case err != nil:
			say("process %d (%s): %v", pid, name, err)
			g.unread = append(g.unread, fmt.Sprintf("%s (%d): %v", name, pid, err))
		default:
			g.procs[pid] = p
		}
	}
	return g
}

// close closes every process opened.
func (g goProcesses) close() {
	for _, p := range g.procs {
		p.Close()
	}
}

// readGoroutines reads the goroutines of each Go process of pids: one
// dump, grouped, named; read is how many processes were read. Each process
// that is not read is said, with why.
func readGoroutines(procRoot string, pids []int, say func(string, ...any)) (d *goroutines.Dump, read int) {
	gp := openGoProcesses(procRoot, pids, say, func(pid int, name string) {
		say("process %d (%s) is not Go: it has no goroutines to read", pid, name)
	})
	defer gp.close()
	d = &goroutines.Dump{Unread: gp.unread}
	var now unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &now) // the runtime's nanotime
	for pid, p := range gp.procs {
		r, err := p.Goroutines()
		if err != nil {
			say("process %d (%s): %v", pid, gp.names[pid], err)
			d.Unread = append(d.Unread, fmt.Sprintf("%s (%d): %v", gp.names[pid], pid, err))
			continue
		}
		read++
		d.Dropped += r.Dropped
		for _, g := range r.Goroutines {
			grp := goroutines.Group{Count: 1, State: g.State, Process: gp.names[pid], Frames: []stacks.Frame{}}
			if g.WaitSince > 0 {
				grp.Waited = time.Duration(now.Nano() - g.WaitSince)
			}
			grp.Frames = namedStack(p, g.Stack)
			d.Add(grp)
		}
	}
	d.Sort()
	return d, read
}

// namedStack names a goroutine's stack (pcs innermost first), inlined
// calls as frames of their own.
func namedStack(p *goproc.Process, pcs []uint64) []stacks.Frame {
	frames := []stacks.Frame{}
	for i, pc := range pcs {
		if i > 0 {
			pc-- // a return address: the call is the instruction before it
		}
		frames = append(frames, p.Names.Frames(pc)...)
	}
	return frames
}
