package runner

import (
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/trace-debug/kubectl-trace-debug/bpf/cpuprofile"
	"github.com/trace-debug/kubectl-trace-debug/bpf/offcpu"
	"github.com/trace-debug/kubectl-trace-debug/bpf/stacks"
	"github.com/trace-debug/kubectl-trace-debug/bpf/syscalls"
)

// threadWaits is --wall's view of the processes of a pod that are not Go:
// their threads' time off the CPU (package offcpu, from sched_switch) by
// where they left it, and their time on it, as one more set of stacks of
// the wall profile.
type threadWaits struct {
	tracker *offcpu.Tracker
	names   map[uint32]string
}

// followThreads starts following the threads of the processes named
// (their PIDs in the target's namespace, under procRoot); nil, said, when
// the kernel will not (no BTF for sched_switch, say).
func followThreads(procRoot string, target int, procs map[int]string, say func(string, ...any)) *threadWaits {
	if len(procs) == 0 {
		return nil
	}
	t := offcpu.Target{PIDNamespace: filepath.Join(procRoot, strconv.Itoa(target), "ns/pid")}
	names := map[uint32]string{}
	for pid, name := range procs {
		t.Processes = append(t.Processes, offcpu.Process{PID: uint32(pid), Dir: filepath.Join(procRoot, strconv.Itoa(pid))})
		names[uint32(pid)] = name
	}
	tr, err := offcpu.Start(t)
	if err != nil {
		say("the %d processes that are not Go are left out: following their threads off the CPU needs the scheduler's sched_switch tracepoint with the kernel's types (BTF): %v", len(procs), err)
		return nil
	}
	return &threadWaits{tracker: tr, names: names}
}

// stop ends the window and gives its time as stacks at hz samples a
// second of a thread's time, each topped by the thread's state: where it
// waited ("[sleeping]", "[uninterruptible]", "[runnable]": preempted,
// waiting for a CPU) over its kernel stack (uninterruptible waits only),
// the system call it was in ("[syscall read]") and its user stack, and
// "[running]" for its time on the CPU (where it ran is --cpu's).
func (w *threadWaits) stop(procRoot string, hz int, say func(string, ...any)) []stacks.Stack {
	if w == nil {
		return nil
	}
	defer w.tracker.Close()
	res, err := w.tracker.Stop()
	if err != nil {
		say("read the threads' time off the CPU: %v", err)
		return nil
	}
	samples := func(d time.Duration) uint64 { return uint64(math.Round(d.Seconds() * float64(hz))) }
	var seen []cpuprofile.Stack
	var seenWaits []offcpu.Wait
	var out []stacks.Stack
	for _, wt := range res.Waits {
		n := samples(wt.Time)
		switch {
		case n == 0:
		case wt.Seen():
			seen = append(seen, cpuprofile.Stack{PID: wt.PID, User: wt.User, Kernel: wt.Kernel, Count: n})
			seenWaits = append(seenWaits, wt)
		default:
			out = append(out, stacks.Stack{Frames: waitFrames(wt, nil), Count: n, Process: w.names[wt.PID]})
		}
	}
	named := cpuprofile.Name(procRoot, seen, nil)
	for i, st := range named.Stacks {
		st.Frames = waitFrames(seenWaits[i], st.Frames)
		out = append(out, st)
	}
	for pid, d := range res.Running {
		if n := samples(d); n > 0 {
			out = append(out, stacks.Stack{Frames: []stacks.Frame{{Func: "[running]"}}, Count: n, Process: w.names[pid]})
		}
	}
	var lost string
	if l := res.Lost; l.Stacks+l.Threads+l.Places > 0 {
		lost = fmt.Sprintf(" (not recorded whole: %d stacks, %d departures, %d times)", l.Stacks, l.Threads, l.Places)
	}
	say("the threads of %d processes that are not Go followed on and off the CPU for %v (sched_switch; their time on the CPU is one [running] frame: --cpu shows where)%s",
		len(w.names), res.Window.Round(time.Millisecond), lost)
	return out
}

// waitFrames are the frames of a wait, innermost first: its state, its
// kernel's frames (named: the tracer's own left out; for a thread asleep
// since before the window, as /proc named them), the system call it was
// in, its user's frames — named holds the kernel's then the user's, as
// cpuprofile.Name gives them — or, for that sleeper, a frame saying they
// were not seen.
func waitFrames(wt offcpu.Wait, named []stacks.Frame) []stacks.Frame {
	frames := []stacks.Frame{{Func: "[" + wt.State + "]"}}
	if !wt.Seen() {
		for _, k := range wt.KernelNames {
			frames = append(frames, stacks.Frame{Func: k})
		}
		frames = append(frames, syscallFrame(wt.Syscall)...)
		return append(frames, stacks.Frame{Func: "[asleep since before the window: its user stack not seen]"})
	}
	kernel := min(len(wt.Kernel), len(named)) // one frame an address
	for _, f := range named[:kernel] {
		if !tracersOwn(f.Func) {
			frames = append(frames, f)
		}
	}
	frames = append(frames, syscallFrame(wt.Syscall)...)
	return append(frames, named[kernel:]...)
}

// syscallFrame is the frame that says which system call a thread waited
// in, between its kernel's frames and its user's; none outside one.
func syscallFrame(nr int) []stacks.Frame {
	if nr < 0 {
		return nil
	}
	return []stacks.Frame{{Func: "[syscall " + syscalls.Name(uint32(nr)) + "]"}}
}

// tracersOwn says whether a kernel frame is the tracer's own (the
// sched_switch program and the kernel's call into it), which tops every
// stack it records.
func tracersOwn(fn string) bool {
	return strings.HasPrefix(fn, "bpf_prog_") || strings.HasPrefix(fn, "bpf_trace_run") || strings.HasPrefix(fn, "__bpf_trace_")
}
