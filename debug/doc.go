// Package debug is the client side of kubectl trace-debug: it resolves the
// target pod and container, builds the privileged ephemeral tracer container,
// injects it through the pods/ephemeralcontainers subresource, waits for it
// with a watch while reporting progress, streams its output over an attach
// session, relays Ctrl-C as a graceful stop and returns the tracer's exit code.
//
// The command follows kubectl's shape: NewTraceOptions sets defaults,
// AddFlags binds flags, and Complete, Validate and Run do the work.
package debug
