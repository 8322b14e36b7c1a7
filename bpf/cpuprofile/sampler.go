package cpuprofile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"runtime"
	"sync"
	"unsafe"

	"github.com/cilium/ebpf/ringbuf"
	"golang.org/x/sys/unix"

	"github.com/trace-debug/kubectl-trace-debug/bpf/pidns"
	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
	"github.com/trace-debug/kubectl-trace-debug/bpf/symbols"
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
	// Process reads a sampled process (by its PID in the namespace) to
	// unwind its stacks; nil reads none (stacks by frame pointers alone).
	Process func(pid uint32) (*symbols.Process, error)
}

// Sampler is an attached stack sampler. A goroutine takes the samples off
// the ring buffer as they come, unwinds each one's user stack (see
// userStack) and counts each distinct (process, user stack, kernel stack).
type Sampler struct {
	objs    samplerObjects
	events  []int // perf event fds, one per CPU
	reader  *ringbuf.Reader
	process func(pid uint32) (*symbols.Process, error)
	done    chan struct{}

	mu       sync.Mutex
	counts   map[string]*Stack
	procs    map[uint32]*symbols.Process // nil: could not be read
	fpStacks map[int32][]uint64          // the stack map's user stacks, by id (an id keeps its stack)
	unwound  [4]uint64                   // samples by how their user stack was walked
	stops    map[string]uint64           // samples whose walk stopped short, by why
	key      []byte                      // a sample's key in counts, reused
	err      error
}

// Stack is one distinct on-CPU stack of one process and how often it was
// sampled. Addresses are innermost first.
type Stack struct {
	PID    uint32
	User   []uint64
	Kernel []uint64
	Count  uint64
	// Stopped says why the user stack's walk stopped short of its top
	// frame ("" where it did not): its last frame is then not its first.
	Stopped string

	kernelID int32
}

// Lost counts the samples the kernel could not record whole.
type Lost struct {
	// UserStacks and KernelStacks are samples whose stack could not be
	// stored (the stack map full, a hash collision); the sample counts
	// with that stack empty.
	UserStacks, KernelStacks uint64
	// Samples are samples dropped because the ring buffer was full.
	Samples uint64
	// NoStackCopy are samples whose user stack could not be copied (its
	// user stack is then walked by frame pointers alone).
	NoStackCopy uint64
	// ByTables, Spliced, ByFramePointers and Stopped count the samples by
	// how their user stack was walked (see userStack); Stops counts those
	// that stopped short by why.
	ByTables, Spliced, ByFramePointers, Stopped uint64
	Stops                                       map[string]uint64
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
	s := &Sampler{process: t.Process, done: make(chan struct{}), counts: map[string]*Stack{}, stops: map[string]uint64{}, procs: map[uint32]*symbols.Process{}, fpStacks: map[int32][]uint64{}}
	if err := pidns.Load("sampler", spec, t.PIDNamespace, map[string]any{"self_tgid": t.Self}, &s.objs); err != nil {
		return nil, err
	}
	if s.reader, err = ringbuf.NewReader(s.objs.Samples); err != nil {
		s.objs.Close()
		return nil, fmt.Errorf("read the samples: %w", err)
	}
	go s.read()
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

// Stop stops sampling and takes the last samples in; the stacks stay
// readable until Close.
func (s *Sampler) Stop() {
	for _, fd := range s.events {
		_ = unix.IoctlSetInt(fd, unix.PERF_EVENT_IOC_DISABLE, 0)
	}
	if s.reader != nil {
		_ = s.reader.Flush() // what is in the buffer is read, then the reader ends
		<-s.done
	}
}

// read takes samples off the ring buffer until Stop or Close.
func (s *Sampler) read() {
	defer close(s.done)
	var rec ringbuf.Record
	for {
		if err := s.reader.ReadInto(&rec); err != nil {
			if !errors.Is(err, ringbuf.ErrFlushed) && !errors.Is(err, ringbuf.ErrClosed) {
				s.mu.Lock()
				s.err = fmt.Errorf("read the samples: %w", err)
				s.mu.Unlock()
			}
			return
		}
		s.add(rec.RawSample)
	}
}

// sampleHeader is the size of struct sample before its stack.
const sampleHeader = 40

// add counts one sample, its user stack unwound.
func (s *Sampler) add(raw []byte) {
	if len(raw) < sampleHeader {
		return
	}
	le := binary.LittleEndian
	pid, userID, kernelID, n := le.Uint32(raw), int32(le.Uint32(raw[4:])), int32(le.Uint32(raw[8:])), le.Uint32(raw[12:])
	stack := raw[sampleHeader:]
	if int(n) < len(stack) {
		stack = stack[:n]
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	fp, err := s.fpStack(userID)
	if err != nil {
		s.err = err
		return
	}
	user, how, stop := userStack(s.funcs(pid), sample{pc: le.Uint64(raw[16:]), sp: le.Uint64(raw[24:]), bp: le.Uint64(raw[32:]), stack: stack, fp: fp})
	if len(user) == 0 {
		how = byFramePointers
	}
	s.unwound[how]++
	if stop != "" {
		s.stops[stop]++
	}
	key := binary.LittleEndian.AppendUint32(s.key[:0], pid)
	key = binary.LittleEndian.AppendUint32(key, uint32(kernelID))
	for _, a := range user {
		key = binary.LittleEndian.AppendUint64(key, a)
	}
	key = append(key, stop...)
	s.key = key
	st := s.counts[string(key)] // no copy of the key to look it up
	if st == nil {
		st = &Stack{PID: pid, User: user, Stopped: stop, kernelID: kernelID}
		s.counts[string(key)] = st
	}
	st.Count++
}

// funcs is how process pid's code is unwound (nil: it is not read), the
// process read when first sampled.
func (s *Sampler) funcs(pid uint32) frameReader {
	p, seen := s.procs[pid]
	if !seen && s.process != nil {
		p, _ = s.process(pid)
		s.procs[pid] = p
	}
	if p == nil {
		return nil
	}
	return p
}

// fpStack is the frame-pointer user stack of id, read once.
func (s *Sampler) fpStack(id int32) ([]uint64, error) {
	if st, ok := s.fpStacks[id]; ok || id < 0 {
		return st, nil
	}
	st, err := s.stack(id)
	if err == nil {
		s.fpStacks[id] = st
	}
	return st, err
}

// Stacks reads the stacks sampled (call Stop first) and what was lost.
func (s *Sampler) Stacks() ([]Stack, Lost, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, Lost{}, s.err
	}
	var out []Stack
	for _, st := range s.counts {
		k, err := s.stack(st.kernelID)
		if err != nil {
			return nil, Lost{}, err
		}
		c := *st
		c.Kernel = k
		out = append(out, c)
	}
	var lost [5]uint64
	for i := range lost {
		if err := s.objs.Lost.Lookup(uint32(i), &lost[i]); err != nil {
			return nil, Lost{}, fmt.Errorf("read lost samples: %w", err)
		}
	}
	return out, Lost{UserStacks: lost[0], KernelStacks: lost[1], Samples: lost[2], NoStackCopy: lost[4],
		ByTables: s.unwound[byTables], Spliced: s.unwound[spliced], ByFramePointers: s.unwound[byFramePointers], Stopped: s.unwound[stopped], Stops: maps.Clone(s.stops)}, nil
}

// Processes are the sampled processes as they were read while they ran
// (nil: could not be read), to name their stacks (Name) after some exit.
func (s *Sampler) Processes() map[uint32]*symbols.Process {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.procs
}

// stack reads the addresses of stack id (see pidns.Stack).
func (s *Sampler) stack(id int32) ([]uint64, error) { return pidns.Stack(s.objs.Stacks, id) }

// Close detaches the sampler and frees it.
func (s *Sampler) Close() error {
	var errs []error
	for _, fd := range s.events {
		errs = append(errs, unix.Close(fd))
	}
	s.events = nil
	if s.reader != nil {
		errs = append(errs, s.reader.Close())
		<-s.done
		s.reader = nil
	}
	errs = append(errs, s.objs.Close())
	return errors.Join(errs...)
}
