// Package kube is the client's one way to the API server: the clients made
// from kubectl's connection settings, the preflight checks (RBAC, Pod
// Security), watches that wait for the tracer container, the resolution of
// workloads and selectors to pods, the attach and log transports behind a
// seam (Clients.Attach, Clients.LogStream) that tests replace, and the
// translation of API errors into exit codes. It knows no flags.
package kube
