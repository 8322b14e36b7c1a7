#!/usr/bin/env bash
# The README's CI example, runnable: trace two Go functions of POD while a
# load runs, and fail the job unless the trace saw what it should: every
# call of main.lookup succeeded (it returns an error, which --func counts),
# and main.counterValue was called at least 3 times. The end-to-end tests run
# it, and see each assertion fail.
# Usage: ci-example.sh NAMESPACE POD LOAD-COMMAND...
# Writes the JUnit report to $JUNIT_REPORT (default trace-debug-report.xml).
# Exits 0 when the assertions held, 14 when one did not, or the trace's own
# exit code when the trace itself failed.
# Set TRACE_DEBUG to call the plugin binary directly (default: kubectl trace-debug).
set -euo pipefail
ns=$1 pod=$2
shift 2
report=${JUNIT_REPORT:-trace-debug-report.xml}
td() { ${TRACE_DEBUG:-kubectl trace-debug} "$@"; }

# Returns once the probes are attached, with the session's name; the
# session keeps its assertions for `stop`.
session=$(td "pod/$pod" -n "$ns" --detach --deadline 30m --func main.counterValue --func main.lookup \
  --assert '@errors["main.lookup"] == 0' \
  --assert '@calls["main.counterValue"] >= 3')
"$@"                                      # the load: tracing has begun
# The Ctrl-C way: the maps are printed into the session's output, the
# assertions checked on them, the report written; exit 14 if one failed.
td stop "pod/$pod" -n "$ns" "$session" --junit "$report"
