package syscalls

import (
	"errors"
	"fmt"
	"maps"
	"sort"
	"strconv"

	"github.com/cilium/ebpf/link"

	"github.com/trace-debug/kubectl-trace-debug/bpf/pidns"
)

// Target is a PID namespace to count, and the one process in it not to
// count (the runner itself).
type Target struct {
	// PIDNamespace is the path of the namespace, e.g. /proc/1/ns/pid.
	PIDNamespace string
	// Self is the runner's PID in that namespace; 0 counts every process.
	Self uint32
}

// Census is an attached syscall counter.
type Census struct {
	objs censusObjects
	link link.Link
}

// Count is the calls of one syscall by one thread name.
type Count struct {
	Nr    uint32
	Name  string
	Comm  string
	Calls uint64
}

// Start loads the census program, restricted to t's PID namespace, and
// attaches it to the sys_enter raw tracepoint.
func Start(t Target) (*Census, error) {
	spec, err := loadCensus()
	if err != nil {
		return nil, fmt.Errorf("load census spec: %w", err)
	}
	c := &Census{}
	if err := pidns.Load("census", spec, t.PIDNamespace, map[string]any{"self_tgid": t.Self}, &c.objs); err != nil {
		return nil, err
	}
	c.link, err = link.AttachRawTracepoint(link.RawTracepointOptions{Name: "sys_enter", Program: c.objs.CountSysEnter})
	if err != nil {
		c.objs.Close()
		return nil, fmt.Errorf("attach census to sys_enter: %w", err)
	}
	return c, nil
}

// Counts returns the counts so far, most calls first, and how many distinct
// (syscall, thread name) pairs did not fit in the map.
func (c *Census) Counts() ([]Count, uint64, error) {
	var (
		k      censusKey
		v      uint64
		counts []Count
	)
	it := c.objs.Counts.Iterate()
	for it.Next(&k, &v) {
		b := make([]byte, 0, len(k.Comm))
		for _, ch := range k.Comm {
			if ch == 0 {
				break
			}
			b = append(b, byte(ch))
		}
		comm := string(b)
		counts = append(counts, Count{Nr: k.Nr, Name: Name(k.Nr), Comm: comm, Calls: v})
	}
	if err := it.Err(); err != nil {
		return nil, 0, fmt.Errorf("read counts: %w", err)
	}
	sort.Slice(counts, func(i, j int) bool {
		if counts[i].Calls != counts[j].Calls {
			return counts[i].Calls > counts[j].Calls
		}
		if counts[i].Name != counts[j].Name {
			return counts[i].Name < counts[j].Name
		}
		return counts[i].Comm < counts[j].Comm
	})
	var dropped uint64
	if err := c.objs.Dropped.Lookup(uint32(0), &dropped); err != nil {
		return nil, 0, fmt.Errorf("read dropped: %w", err)
	}
	return counts, dropped, nil
}

// Close detaches and unloads the program.
func (c *Census) Close() error {
	err := c.link.Close()
	return errors.Join(err, c.objs.Close())
}

// Name returns the syscall's name on this architecture, or "syscall_N".
func Name(nr uint32) string {
	if n, ok := names[nr]; ok {
		return n
	}
	return "syscall_" + strconv.FormatUint(uint64(nr), 10)
}

// Names returns the syscall table of this architecture: number → name.
func Names() map[uint32]string { return maps.Clone(names) }
