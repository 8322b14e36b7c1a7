package cpuprofile

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/trace-debug/kubectl-trace-debug/bpf/stacks"
	"github.com/trace-debug/kubectl-trace-debug/bpf/symbols"
)

// userNamer names a process's user addresses (symbols.Process), inlined
// calls as frames of their own.
type userNamer interface {
	Frames(addr uint64) []stacks.Frame
}

// kernelNamer names kernel addresses (symbols.Kernel).
type kernelNamer interface {
	Name(addr uint64) string
}

// Name names the sampled stacks as a profile: each process through its own
// mappings and files, as known (read while it was sampled) or read under
// procRoot while it lives (one that exited unread keeps its user
// addresses and its samples count in Lost.Unnamed), the kernel's frames
// through procRoot's kallsyms.
func Name(procRoot string, sampled []Stack, known map[uint32]*symbols.Process) *stacks.Profile {
	p := &stacks.Profile{}
	var kernel kernelNamer
	if k, err := symbols.NewKernel(filepath.Join(procRoot, "kallsyms")); err == nil {
		kernel = k
	}
	procs := map[uint32]userNamer{}
	comms := map[uint32]string{}
	for _, st := range sampled {
		proc, seen := procs[st.PID]
		if !seen {
			if sp := known[st.PID]; sp != nil {
				proc = sp
			} else if sp, err := symbols.NewProcess(procRoot, int(st.PID)); err == nil {
				proc = sp
			}
			procs[st.PID] = proc
			comm, _ := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(int(st.PID)), "comm"))
			comms[st.PID] = strings.TrimSpace(string(comm))
		}
		if proc == nil && len(st.User) > 0 {
			p.Lost.Unnamed += st.Count
		}
		p.Stacks = append(p.Stacks, stacks.Stack{Frames: st.frames(proc, kernel), Count: st.Count, Process: comms[st.PID]})
	}
	return p
}

// frames names st's addresses, innermost first: the kernel's above the
// user's, as they were on the CPU, a user address's inlined calls as frames
// of their own; an address nothing names (user nil: the process could not
// be read) stays as it is. A user stack whose walk stopped short ends in a
// frame that says why ("[unwind stopped: ...]"), never in a guessed caller.
func (st Stack) frames(user userNamer, kernel kernelNamer) []stacks.Frame {
	out := make([]stacks.Frame, 0, len(st.Kernel)+len(st.User))
	for _, a := range st.Kernel {
		f := stacks.Frame{Func: fmt.Sprintf("0x%x", a)}
		if kernel != nil {
			f.Func = kernel.Name(a)
		}
		out = append(out, f)
	}
	for i, a := range st.User {
		if user == nil {
			out = append(out, stacks.Frame{Func: fmt.Sprintf("0x%x", a)})
			continue
		}
		if i > 0 && a > 0 {
			a-- // a return address: the call is the instruction before it
		}
		out = append(out, user.Frames(a)...)
	}
	if st.Stopped != "" {
		out = append(out, stacks.Frame{Func: "[unwind stopped: " + st.Stopped + "]"})
	}
	return out
}
