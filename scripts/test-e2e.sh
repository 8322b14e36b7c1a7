#!/usr/bin/env bash
# Runs the end-to-end tests against the local cluster, starting it (and
# building what it needs) first. The cluster stays up for the next run;
# `make cluster-down` stops it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
kubeconfig=$(scripts/cluster/up.sh)
. scripts/cluster/env.sh
# bpftrace's own tools, as the runner image carries them.
TRACE_DEBUG_BPFTRACE_TOOLS=$(scripts/images/bpftrace-root.sh)/usr/sbin
export TRACE_DEBUG_BPFTRACE_TOOLS
TRACE_DEBUG_KUBECONFIG=$kubeconfig TRACE_DEBUG_BIN=$root/_output/bin/kubectl-trace_debug \
TRACE_DEBUG_STATIC_PODS=$CLUSTER_DIR/kubelet/manifests TRACE_DEBUG_CLUSTER_DIR=$CLUSTER_DIR TRACE_DEBUG_KUBECTL=$(scripts/cluster/build-k8s.sh)/kubectl \
  go test -tags e2e -count=1 -timeout 20m -v -skip TestRestartsMidSession ./test/e2e 2>&1 | grep -v '^=== \(RUN\|PAUSE\|CONT\)'
code=${PIPESTATUS[0]}
# Last and alone: crashing the API server and the kubelet must not disturb
# the other tests.
TRACE_DEBUG_KUBECONFIG=$kubeconfig TRACE_DEBUG_BIN=$root/_output/bin/kubectl-trace_debug \
TRACE_DEBUG_STATIC_PODS=$CLUSTER_DIR/kubelet/manifests TRACE_DEBUG_CLUSTER_DIR=$CLUSTER_DIR TRACE_DEBUG_KUBECTL=$(scripts/cluster/build-k8s.sh)/kubectl \
  go test -tags e2e -count=1 -timeout 10m -v -run TestRestartsMidSession ./test/e2e 2>&1 | grep -v '^=== \(RUN\|PAUSE\|CONT\)'
[ "${PIPESTATUS[0]}" = 0 ] || code=1
exit "$code"
