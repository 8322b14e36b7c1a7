// Package pidns loads the native engines' eBPF programs, which all count
// only the processes of one PID namespace (the target container's): it
// reads the namespace's identity, sets it, and the engine's other settings,
// on the program before load, and explains a verifier rejection; and it
// reads the stacks their stack maps hold (Stack).
//
// Pod-only: it runs in the runner, in the tracer container; the client
// links none of it (boundary_test.go keeps it so).
package pidns

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"
)

// Load sets the spec's pidns_dev and pidns_ino to the PID namespace at
// path (/proc/PID/ns/pid) and its other variables to vars, then loads it
// into objs (a bpf2go objects struct). name says which program, in errors.
func Load(name string, spec *ebpf.CollectionSpec, path string, vars map[string]any, objs any) error {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return fmt.Errorf("stat pid namespace: %w", err)
	}
	_ = rlimit.RemoveMemlock() // kernels before 5.11 charge maps to memlock
	errs := []error{spec.Variables["pidns_dev"].Set(uint64(st.Dev)), spec.Variables["pidns_ino"].Set(st.Ino)}
	for k, v := range vars {
		errs = append(errs, spec.Variables[k].Set(v))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("configure %s: %w", name, err)
	}
	if err := spec.LoadAndAssign(objs, nil); err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			return fmt.Errorf("load %s: %+v", name, ve)
		}
		return fmt.Errorf("load %s: %w", name, err)
	}
	return nil
}

// Stack reads the addresses of stack id from a BPF_MAP_TYPE_STACK_TRACE
// map of 127 frames, innermost first; none for a negative id (no stack,
// or one the kernel could not record).
func Stack(m *ebpf.Map, id int32) ([]uint64, error) {
	if id < 0 {
		return nil, nil
	}
	var frames [127]uint64
	if err := m.Lookup(uint32(id), &frames); err != nil {
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
