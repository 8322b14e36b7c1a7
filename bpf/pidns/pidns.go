// Package pidns loads the native engines' eBPF programs, which all count
// only the processes of one PID namespace (the target container's): it
// reads the namespace's identity, sets it, and the engine's other settings,
// on the program before load, and explains a verifier rejection.
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
