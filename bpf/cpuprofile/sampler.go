package cpuprofile

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/trace-debug/kubectl-trace-debug/bpf/pidns"
	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
)

// MaxHz bounds the sampling frequency (protocol.MaxCPUHz).
const MaxHz = protocol.MaxCPUHz

// Target is the PID namespace to sample, and the one process in it not to
// sample (the runner itself).
type Target struct {
	// PIDNamespace is the path of the namespace, e.g. /proc/1/ns/pid.
	PIDNamespace string
	// Self is the runner's PID in that namespace; 0 samples every process.
	Self uint32
	// Hz is how many samples a second each CPU takes, 1 to MaxHz.
	Hz int
}

// Sampler is an attached stack sampler.
type Sampler struct {
	objs   samplerObjects
	events []int // perf event fds, one per CPU
}

// Stack is one distinct on-CPU stack of one process and how often it was
// sampled. Addresses are innermost first.
type Stack struct {
	PID    uint32
	User   []uint64
	Kernel []uint64
	Count  uint64
}

// Lost counts the samples the kernel could not record whole.
type Lost struct {
	// UserStacks and KernelStacks are samples whose stack could not be
	// stored (the stack map full, a hash collision); the sample counts
	// with that stack empty.
	UserStacks, KernelStacks uint64
	// Samples are samples dropped because the counts map was full.
	Samples uint64
}

// Start loads the sampler, restricted to t's PID namespace, and attaches it
// to a CPU clock perf event on every online CPU.
func Start(t Target) (*Sampler, error) {
	if t.Hz < 1 || t.Hz > MaxHz {
		return nil, fmt.Errorf("sample at %d Hz: want 1 to %d", t.Hz, MaxHz)
	}
	spec, err := loadSampler()
	if err != nil {
		return nil, fmt.Errorf("load sampler spec: %w", err)
	}
	s := &Sampler{}
	if err := pidns.Load("sampler", spec, t.PIDNamespace, map[string]any{"self_tgid": t.Self}, &s.objs); err != nil {
		return nil, err
	}
	for cpu := 0; cpu < runtime.NumCPU(); cpu++ {
		fd, err := openPerfEvent(cpu, t.Hz)
		if errors.Is(err, unix.ENODEV) {
			continue // an offline CPU
		}
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("open the CPU clock of CPU %d: %w", cpu, err)
		}
		s.events = append(s.events, fd)
		if err := unix.IoctlSetInt(fd, unix.PERF_EVENT_IOC_SET_BPF, s.objs.Sample.FD()); err != nil {
			s.Close()
			return nil, fmt.Errorf("attach the sampler to CPU %d: %w", cpu, err)
		}
		if err := unix.IoctlSetInt(fd, unix.PERF_EVENT_IOC_ENABLE, 0); err != nil {
			s.Close()
			return nil, fmt.Errorf("enable CPU %d's clock: %w", cpu, err)
		}
	}
	if len(s.events) == 0 {
		s.Close()
		return nil, errors.New("open the CPU clocks: no CPU is online")
	}
	return s, nil
}

// openPerfEvent opens a software CPU clock on cpu, every process, sampling
// at hz.
func openPerfEvent(cpu, hz int) (int, error) {
	attr := unix.PerfEventAttr{
		Type:   unix.PERF_TYPE_SOFTWARE,
		Config: unix.PERF_COUNT_SW_CPU_CLOCK,
		Size:   uint32(unsafe.Sizeof(unix.PerfEventAttr{})),
		Sample: uint64(hz),
		Bits:   unix.PerfBitFreq | unix.PerfBitDisabled,
	}
	return unix.PerfEventOpen(&attr, -1, cpu, -1, unix.PERF_FLAG_FD_CLOEXEC)
}

// CPUs is the number of CPUs sampled.
func (s *Sampler) CPUs() int { return len(s.events) }

// Stop stops sampling; the stacks stay readable until Close.
func (s *Sampler) Stop() {
	for _, fd := range s.events {
		_ = unix.IoctlSetInt(fd, unix.PERF_EVENT_IOC_DISABLE, 0)
	}
}

// Stacks reads the stacks sampled so far and what was lost.
func (s *Sampler) Stacks() ([]Stack, Lost, error) {
	var out []Stack
	var k samplerKey
	var n uint64
	it := s.objs.Counts.Iterate()
	for it.Next(&k, &n) {
		st := Stack{PID: k.Pid, Count: n}
		var err error
		if st.User, err = s.stack(k.UserStack); err != nil {
			return nil, Lost{}, err
		}
		if st.Kernel, err = s.stack(k.KernelStack); err != nil {
			return nil, Lost{}, err
		}
		out = append(out, st)
	}
	if err := it.Err(); err != nil {
		return nil, Lost{}, fmt.Errorf("read sampled stacks: %w", err)
	}
	var lost [3]uint64
	for i := range lost {
		if err := s.objs.Lost.Lookup(uint32(i), &lost[i]); err != nil {
			return nil, Lost{}, fmt.Errorf("read lost samples: %w", err)
		}
	}
	return out, Lost{UserStacks: lost[0], KernelStacks: lost[1], Samples: lost[2]}, nil
}

// stack reads the addresses of stack id, innermost first; none for a
// negative id (no stack, or one not recorded).
func (s *Sampler) stack(id int32) ([]uint64, error) {
	if id < 0 {
		return nil, nil
	}
	var frames [127]uint64
	if err := s.objs.Stacks.Lookup(uint32(id), &frames); err != nil {
		return nil, fmt.Errorf("read stack %d: %w", id, err)
	}
	var out []uint64
	for _, a := range frames {
		if a == 0 {
			break
		}
		out = append(out, a)
	}
	return out, nil
}

// Close detaches the sampler and frees it.
func (s *Sampler) Close() error {
	var errs []error
	for _, fd := range s.events {
		errs = append(errs, unix.Close(fd))
	}
	s.events = nil
	errs = append(errs, s.objs.Close())
	return errors.Join(errs...)
}
