// Package debug is the command layer of kubectl trace-debug: the cobra
// commands (the trace itself, list, logs, stop, attach, doctor), their
// flags and options in kubectl's shape (Complete, Validate, Run), and every
// message that names a flag or a subcommand. The work is done below it:
//
//	debug (commands) → group (several pods) → session (one pod's tracer)
//	                 → kube (the API server) → pods (pure pod logic)
//
// with exit (exit codes and fixes) beside them all; boundary_test.go keeps
// the imports running that way.
package debug
