#!/usr/bin/env bash
# The README's CI example, runnable: trace a Go function of POD while a load
# runs, then print the result as JSON. The end-to-end tests run it too.
# Usage: ci-example.sh NAMESPACE POD LOAD-COMMAND...
# Set TRACE_DEBUG to call the plugin binary directly (default: kubectl trace-debug).
set -euo pipefail
ns=$1 pod=$2
shift 2
td() { ${TRACE_DEBUG:-kubectl trace-debug} "$@"; }

# Returns once the probes are attached, with the session's name.
session=$(td "pod/$pod" -n "$ns" --detach --deadline 30m -o json \
  -e 'uprobe:/proc/$container_pid/root/app/server:"main.counterValue" { @calls = count(); }')
"$@"                                      # the load: tracing has begun
td stop "pod/$pod" -n "$ns" "$session"    # the Ctrl-C way: the maps are printed
td logs "pod/$pod" -n "$ns" "$session" | grep '^{"type": "map"'
