// Package runner is the in-container side of kubectl trace-debug. Started as
// the ephemeral container's process, it prepares the kernel side (tracefs,
// debugfs, BTF or headers, memlock), finds the target container's main
// process, puts its PID into the program, runs the tracer without a shell and
// makes sure the tracer never outlives its session: it stops the tracer the
// Ctrl-C way (so maps are printed) on request, when the client goes away, at
// the session's duration, and at its deadline.
//
// Pod-only: it runs in the runner, in the tracer container; the client
// links none of it (boundary_test.go keeps it so).
package runner
