package gofunc

import (
	"errors"
	"fmt"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"

	"github.com/trace-debug/kubectl-trace-debug/bpf/pidns"
)

// Call is one completed call of a traced function.
type Call struct {
	Func     *Func
	PID      uint32 // in the target's PID namespace
	Duration time.Duration
	// Regs are the result registers in ABIInternal order.
	Regs [9]uint64
	// Str holds the first bytes at Regs[0], for string results.
	Str [64]byte
}

// Tracer holds the attached probes of some functions of one executable.
type Tracer struct {
	funcs  []Func
	objs   gofuncObjects
	links  []link.Link
	reader *ringbuf.Reader
}

// Start attaches the entry and RET probes of funcs in the executable exe,
// counting only processes of the PID namespace at pidnsPath (/proc/PID/ns/pid).
func Start(exe, pidnsPath string, funcs []Func) (*Tracer, error) {
	spec, err := loadGofunc()
	if err != nil {
		return nil, fmt.Errorf("load gofunc spec: %w", err)
	}
	t := &Tracer{funcs: funcs}
	if err := pidns.Load("gofunc", spec, pidnsPath, nil, &t.objs); err != nil {
		return nil, err
	}
	ex, err := link.OpenExecutable(exe)
	if err != nil {
		t.Close()
		return nil, fmt.Errorf("open %s: %w", exe, err)
	}
	for i, fn := range funcs {
		attach := func(prog *ebpf.Program, off uint64) error {
			l, err := ex.Uprobe("", prog, &link.UprobeOptions{Address: off, Cookie: uint64(i)})
			if err != nil {
				return fmt.Errorf("attach %s at %#x: %w", fn.Name, off, err)
			}
			t.links = append(t.links, l)
			return nil
		}
		if err := attach(t.objs.GoEntry, fn.Entry); err != nil {
			t.Close()
			return nil, err
		}
		for _, r := range fn.Returns {
			if err := attach(t.objs.GoReturn, r); err != nil {
				t.Close()
				return nil, err
			}
		}
	}
	if t.reader, err = ringbuf.NewReader(t.objs.Events); err != nil {
		t.Close()
		return nil, fmt.Errorf("read events: %w", err)
	}
	return t, nil
}

// Probes is the number of attached probes.
func (t *Tracer) Probes() int { return len(t.links) }

// ErrDrained is what Next returns after Detach, once every call recorded
// before it has been returned.
var ErrDrained = errors.New("every recorded call read")

// Next blocks until the next call. After Detach it returns the calls still
// in the ring buffer, then ErrDrained; after Close, ringbuf.ErrClosed.
func (t *Tracer) Next() (Call, error) {
	rec, err := t.reader.Read()
	if errors.Is(err, ringbuf.ErrFlushed) {
		return Call{}, ErrDrained
	}
	if err != nil {
		return Call{}, err
	}
	var e gofuncEvent
	if len(rec.RawSample) < int(unsafe.Sizeof(e)) {
		return Call{}, fmt.Errorf("short event: %d bytes", len(rec.RawSample))
	}
	e = *(*gofuncEvent)(unsafe.Pointer(&rec.RawSample[0]))
	if int(e.Func) >= len(t.funcs) {
		return Call{}, fmt.Errorf("event for unknown function %d", e.Func)
	}
	return Call{Func: &t.funcs[e.Func], PID: e.Tgid, Duration: time.Duration(e.DurationNs), Regs: e.Results, Str: e.Str}, nil
}

// Detach detaches every probe, so no call is recorded after it, and lets
// Next drain what is recorded: it then returns ErrDrained instead of
// blocking.
func (t *Tracer) Detach() error {
	var errs []error
	for _, l := range t.links {
		errs = append(errs, l.Close())
	}
	t.links = nil
	if t.reader != nil {
		errs = append(errs, t.reader.Flush())
	}
	return errors.Join(errs...)
}

// Close detaches every probe and frees the tracer; a blocked Next returns
// ringbuf.ErrClosed. Calls not yet read are lost: Detach and drain first.
func (t *Tracer) Close() error {
	errs := []error{t.Detach()}
	if t.reader != nil {
		errs = append(errs, t.reader.Close())
	}
	errs = append(errs, t.objs.Close())
	return errors.Join(errs...)
}
