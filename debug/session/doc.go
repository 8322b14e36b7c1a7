// Package session is one tracer session in one pod, as the client sees it:
// start (inject the tracer, wait until it runs), follow its output over an
// attach with the Ctrl-C state machine (first stops, second leaves), pick
// the output up from the log when the attach breaks, detach, stop, and the
// session's result as an exit code. A session is built from a plain Request
// and Streams, never from a flag struct; it reaches the API server only
// through kube.Clients, whose transport seam lets tests replay runner lines.
package session
