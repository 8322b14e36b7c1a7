// Package group runs a command over several pods (a workload's, a label
// selector's) as one: a member per pod, each with its own streams that mark
// every line with its pod and keep its final maps, the user's signals given
// to every member, the pods' final maps merged into one set, and one
// Outcome whose rules every command shares: each pod's result on stderr,
// and exit 13 (exit.Partial) when some pods failed or were not reached.
package group
