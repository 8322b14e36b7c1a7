package runner

import (
	"regexp"
	"strconv"
)

// containerPIDVar matches $container_pid as a whole variable name, so
// $container_pids or $container_pid2 (user variables) are left alone.
var containerPIDVar = regexp.MustCompile(`\$container_pid\b`)

// SubstituteContainerPID replaces every $container_pid in program with pid,
// the target's main process as seen from the runner's PID namespace.
func SubstituteContainerPID(program string, pid int) string {
	return containerPIDVar.ReplaceAllLiteralString(program, strconv.Itoa(pid))
}
