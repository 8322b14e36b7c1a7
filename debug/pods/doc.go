// Package pods is what the client knows of pods without asking the API
// server: TARGET parsing, the choice and checks of the target container,
// the tracer container's spec and patch, the sessions a pod records and the
// pods a workload or selector resolves to. It is pure (no client-go): every
// function takes the objects it judges, so tables test it.
package pods
