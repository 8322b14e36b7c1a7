#!/usr/bin/env bash
# make bench: starts the local cluster and the demo pod, then runs
# scripts/bench (trace-debug against a Job on the node, side by side).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
kubeconfig=$(scripts/cluster/up.sh)
kubectl=$(scripts/cluster/build-k8s.sh)/kubectl
"$kubectl" --kubeconfig "$kubeconfig" apply -f scripts/demo/demo-pod.yaml >&2
"$kubectl" --kubeconfig "$kubeconfig" wait --for=condition=Ready pod/demo --timeout=120s >&2
go run ./scripts/bench -kubeconfig "$kubeconfig" -kubectl "$kubectl" -plugin _output/bin/kubectl-trace_debug "$@"
