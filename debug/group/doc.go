// Package group runs a command over a session's pods, one or several, in
// one path: one pod is a group of one, whose lines are its own; several
// get a member per pod, whose streams mark every line with its pod, and
// the user's signals go to every member. Every session ends here (Run):
// each pod's output is split at the runner's maps line (Final), what came
// after it is handed to the session's Ending (Maps shows and reads the
// final maps, merged across pods; a mode may bring its own, as --cpu's
// profile), and one Outcome gives the rule every command exits by: each
// pod's result on stderr, exit 13 (exit.Partial) when some pods failed or
// were not reached; one pod's outcome is its own.
package group
