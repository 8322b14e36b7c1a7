package offcpu

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/trace-debug/kubectl-trace-debug/bpf/pidns"
)

// Process is a process whose threads are followed: its PID in the
// target's namespace and its directory under /proc as the caller sees it
// (where its threads' states are read when the window begins; their IDs in
// the namespace from its NSpid lines, whatever namespace that /proc is
// of).
type Process struct {
	PID uint32
	Dir string
}

// Target is the PID namespace and the processes in it to follow.
type Target struct {
	// PIDNamespace is the path of the namespace, e.g. /proc/1/ns/pid.
	PIDNamespace string
	Processes    []Process
}

// Tracker follows the threads of a Target on and off the CPU until Stop.
type Tracker struct {
	objs     offcpuObjects
	link     link.Link
	since    uint64            // the window's start, on bpf_ktime_get_ns's clock
	sleepers map[uint32]string // the kernel stacks of the threads asleep when it began, by thread
	procs    []Process
	onCPU    map[string]time.Duration // each thread's time on the CPU when it began, by its directory
}

// Result is what a Tracker measured.
type Result struct {
	Waits []Wait
	// Running is each process's threads' time on the CPU, as the
	// kernel's scheduler counts it (schedstat; a thread that ended in the
	// window is not in it).
	Running map[uint32]time.Duration
	// Window is how long the tracker followed the threads.
	Window time.Duration
	Lost   Lost
}

// Wait is how long the threads of one process were off the CPU at one
// place, in one state.
type Wait struct {
	PID   uint32
	State string
	// User and Kernel are the stacks it left the CPU with, innermost
	// first (user by frame pointers); both empty for a thread asleep since
	// before the window, whose kernel stack is then named in KernelNames
	// as /proc read it when the window began.
	User, Kernel []uint64
	KernelNames  []string
	// Syscall is the number of the system call it waited in (-1: none).
	// Kernel is recorded for uninterruptible waits only: walking it at
	// every switch would cost the followed threads most of what they pay.
	Syscall int
	Time    time.Duration
}

// Seen says whether the kernel recorded this wait's stacks.
func (w Wait) Seen() bool { return w.KernelNames == nil }

// Lost counts what could not be recorded whole.
type Lost struct {
	// Stacks are departures whose stack could not be stored (the stack
	// map full, a collision): their time counts with the stack empty.
	Stacks uint64
	// Threads are departures not followed (the map of threads away full).
	Threads uint64
	// Places are times not added (the map of places full).
	Places uint64
}

// Start loads the program, restricted to t's namespace and processes, and
// attaches it to sched_switch; threads asleep now are counted from now.
func Start(t Target) (*Tracker, error) {
	spec, err := loadOffcpu()
	if err != nil {
		return nil, fmt.Errorf("load off-CPU spec: %w", err)
	}
	tr := &Tracker{sleepers: map[uint32]string{}, procs: t.Processes, onCPU: map[string]time.Duration{}}
	if err := pidns.Load("off-CPU tracker", spec, t.PIDNamespace, nil, &tr.objs); err != nil {
		return nil, err
	}
	for _, p := range t.Processes {
		if err := tr.objs.Tracked.Put(p.PID, uint8(1)); err != nil {
			tr.Close()
			return nil, fmt.Errorf("follow process %d: %w", p.PID, err)
		}
	}
	for _, p := range t.Processes {
		for dir, d := range threadsOnCPU(p.Dir) {
			tr.onCPU[dir] = d
		}
	}
	tr.since = monotonic()
	if tr.link, err = link.AttachTracing(link.TracingOptions{Program: tr.objs.OnSwitch}); err != nil {
		tr.Close()
		return nil, fmt.Errorf("attach to sched_switch: %w", err)
	}
	for _, p := range t.Processes {
		for _, th := range asleep(p.Dir, p.PID) {
			a := offcpuAway{Since: tr.since, Tgid: p.PID, UserStack: -1, KernelStack: -1, State: th.state, Syscall: th.syscall}
			if tr.objs.Aways.Update(th.nsTID, a, ebpf.UpdateNoExist) == nil { // one that left since is the kernel's
				tr.sleepers[th.nsTID] = kernelStackOf(filepath.Join(p.Dir, "task", th.dir))
			}
		}
	}
	return tr, nil
}

// Stop detaches the program and reads what it measured: the waits, and
// each process's time on the CPU; threads still away or on the CPU count
// up to now.
func (tr *Tracker) Stop() (Result, error) {
	if tr.link != nil {
		tr.link.Close()
		tr.link = nil
	}
	now := monotonic()
	type place struct {
		k     offcpuWaitKey
		names string // a sleeper's kernel stack as /proc says it
	}
	times := map[place]uint64{}
	var k offcpuWaitKey
	var ns uint64
	for it := tr.objs.Waits.Iterate(); it.Next(&k, &ns); {
		times[place{k: k}] += ns
	}
	var tid uint32
	var a offcpuAway
	for it := tr.objs.Aways.Iterate(); it.Next(&tid, &a); {
		p := place{k: offcpuWaitKey{Tgid: a.Tgid, UserStack: a.UserStack, KernelStack: a.KernelStack, State: a.State, Syscall: a.Syscall}}
		if a.UserStack == -1 && a.KernelStack == -1 {
			p.names = tr.sleepers[tid]
		}
		times[p] += now - a.Since
	}
	running := map[uint32]time.Duration{}
	for _, p := range tr.procs {
		for dir, d := range threadsOnCPU(p.Dir) {
			running[p.PID] += d - tr.onCPU[dir]
		}
	}
	var waits []Wait
	for p, ns := range times {
		w := Wait{PID: p.k.Tgid, State: StateName(p.k.State), Syscall: int(p.k.Syscall), Time: time.Duration(ns)}
		var err error
		if w.User, err = tr.stack(p.k.UserStack); err != nil {
			return Result{}, err
		}
		if w.Kernel, err = tr.stack(p.k.KernelStack); err != nil {
			return Result{}, err
		}
		if p.k.UserStack == -1 && p.k.KernelStack == -1 {
			w.KernelNames = []string{}
			if p.names != "" {
				w.KernelNames = strings.Split(p.names, "\n")
			}
		}
		waits = append(waits, w)
	}
	var lost [3]uint64
	for i := range lost {
		if err := tr.objs.Lost.Lookup(uint32(i), &lost[i]); err != nil {
			return Result{}, fmt.Errorf("read what was lost: %w", err)
		}
	}
	return Result{Waits: waits, Running: running, Window: time.Duration(now - tr.since), Lost: Lost{Stacks: lost[0], Threads: lost[1], Places: lost[2]}}, nil
}

// stack reads the addresses of stack id (see pidns.Stack).
func (tr *Tracker) stack(id int32) ([]uint64, error) { return pidns.Stack(tr.objs.Stacks, id) }

// Close detaches the program (if Stop did not) and frees it.
func (tr *Tracker) Close() error {
	var errs []error
	if tr.link != nil {
		errs = append(errs, tr.link.Close())
		tr.link = nil
	}
	errs = append(errs, tr.objs.Close())
	return errors.Join(errs...)
}

// StateName names a task's state as the kernel's sched_switch saw it when
// it left the CPU (0: preempted, still runnable).
func StateName(s uint32) string {
	switch {
	case s == 0:
		return "runnable"
	case s&1 != 0:
		return "sleeping"
	case s&2 != 0 && s&0x400 != 0:
		return "idle"
	case s&2 != 0:
		return "uninterruptible"
	case s&4 != 0:
		return "stopped"
	case s&8 != 0:
		return "traced"
	case s&0x80 != 0:
		return "exiting"
	}
	return fmt.Sprintf("state 0x%x", s)
}

// sleeper is a thread asleep when the window began: its ID in the
// target's namespace, its directory's name under task/, its state and
// its system call (-1: none).
type sleeper struct {
	nsTID   uint32
	dir     string
	state   uint32
	syscall int32
}

// asleep are the threads of the process at dir, whose PID in the target's
// namespace is pid, that are off the CPU now (by
// /proc/PID/task/TID/stat's state letter), by their IDs in that namespace.
func asleep(dir string, pid uint32) []sleeper {
	level := slices.Index(nsPIDs(filepath.Join(dir, "status")), pid) // the namespace's place in NSpid
	if level < 0 {
		return nil
	}
	tasks, _ := os.ReadDir(filepath.Join(dir, "task"))
	var out []sleeper
	for _, t := range tasks {
		ids := nsPIDs(filepath.Join(dir, "task", t.Name(), "status"))
		b, err := os.ReadFile(filepath.Join(dir, "task", t.Name(), "stat"))
		if err != nil || len(ids) <= level {
			continue
		}
		if s, ok := stateOf(string(b)); ok {
			out = append(out, sleeper{ids[level], t.Name(), s, syscallOf(filepath.Join(dir, "task", t.Name(), "syscall"))})
		}
	}
	return out
}

// nsPIDs reads a status file's NSpid line: the IDs of a task in the
// namespace of that /proc and in each nested in it, outermost first.
func nsPIDs(status string) []uint32 {
	b, _ := os.ReadFile(status)
	for _, line := range strings.Split(string(b), "\n") {
		rest, ok := strings.CutPrefix(line, "NSpid:")
		if !ok {
			continue
		}
		var ids []uint32
		for _, f := range strings.Fields(rest) {
			id, err := strconv.ParseUint(f, 10, 32)
			if err != nil {
				return nil
			}
			ids = append(ids, uint32(id))
		}
		return ids
	}
	return nil
}

// stateOf reads a stat line's state letter as a kernel task state; false
// for a thread on (or ready for) the CPU.
func stateOf(stat string) (uint32, bool) {
	i := strings.LastIndexByte(stat, ')') // the command may hold anything
	if i < 0 || i+2 >= len(stat) {
		return 0, false
	}
	switch stat[i+2] {
	case 'S':
		return 1, true
	case 'D':
		return 2, true
	case 'I':
		return 0x402, true
	case 'T':
		return 4, true
	case 't':
		return 8, true
	}
	return 0, false
}

// syscallOf reads the system call a thread is in from its /proc syscall
// file ("NR args... sp pc"; "-1 sp pc" outside one); -1 if none or
// unknown.
func syscallOf(path string) int32 {
	b, err := os.ReadFile(path)
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	nr, err := strconv.ParseInt(f[0], 10, 32)
	if err != nil {
		return -1
	}
	return int32(nr)
}

// kernelStackOf names the kernel stack of the thread at dir (a
// /proc/PID/task/TID) as /proc says it, innermost first, one per line (""
// if it cannot be read).
func kernelStackOf(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "stack"))
	if err != nil {
		return ""
	}
	var names []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line) // "[<0>] do_nanosleep+0x6a/0x170"
		if len(f) < 2 {
			continue
		}
		name, _, _ := strings.Cut(f[1], "+")
		names = append(names, name)
	}
	return strings.Join(names, "\n")
}

// threadsOnCPU reads the time on the CPU of each thread of the process at
// dir, by the thread's directory (schedstat's first field).
func threadsOnCPU(dir string) map[string]time.Duration {
	tasks, _ := os.ReadDir(filepath.Join(dir, "task"))
	out := map[string]time.Duration{}
	for _, t := range tasks {
		path := filepath.Join(dir, "task", t.Name())
		b, err := os.ReadFile(filepath.Join(path, "schedstat"))
		if err != nil {
			continue
		}
		if f := strings.Fields(string(b)); len(f) > 0 {
			if ns, err := strconv.ParseInt(f[0], 10, 64); err == nil {
				out[path] = time.Duration(ns)
			}
		}
	}
	return out
}

// monotonic is now on bpf_ktime_get_ns's clock.
func monotonic() uint64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return uint64(ts.Nano())
}
