#!/usr/bin/env bash
# The main job: starts the local cluster, deploys the demo server, and traces
# it with `kubectl trace-debug` while sending it requests: every call of the
# server's main.counterValue is printed, then the map summary.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
kubeconfig=$(scripts/cluster/up.sh)
export KUBECONFIG=$kubeconfig
bin=$(scripts/cluster/build-k8s.sh)
# kubectl finds the plugin (kubectl-trace_debug) on PATH.
export PATH="$root/_output/bin:$bin:$PATH"

kubectl apply -f scripts/demo/demo-pod.yaml >&2
kubectl wait --for=condition=Ready pod/demo --timeout=120s >&2

# Send requests once the trace has begun (its BEGIN line), then stop it.
( for _ in $(seq 300); do grep -q "tracing main.counterValue" "$root/_output/demo.out" 2>/dev/null && break; sleep 0.1; done
  for _ in 1 2 3 4 5; do curl -s http://127.0.0.1:18080/ >/dev/null; sleep 0.3; done ) &

echo "+ kubectl trace-debug pod/demo --duration 8s -e '...uprobe on main.counterValue...'" >&2
kubectl trace-debug pod/demo --duration 8s -e '
BEGIN { printf("tracing main.counterValue in pod demo; Ctrl-C to stop\n"); }
uprobe:/proc/$container_pid/root/app/server:"main.counterValue" {
  @calls = count();
  printf("%s called main.counterValue\n", comm);
}' | tee "$root/_output/demo.out"
wait

# The same function with the native engine: each call's result (the request
# counter) and duration, Go-safe, from a 5 MB image without bpftrace.
( for _ in $(seq 300); do grep -q "probes at entries and returns" "$root/_output/demo-func.out" 2>/dev/null && break; sleep 0.1; done
  for _ in 1 2 3; do curl -s http://127.0.0.1:18080/ >/dev/null; sleep 0.3; done ) &
echo "+ kubectl trace-debug pod/demo --duration 5s --func main.counterValue" >&2
kubectl trace-debug pod/demo --duration 5s --func main.counterValue | tee "$root/_output/demo-func.out"
wait
cat >&2 <<MSG

The demo pod keeps running. Try, with the same KUBECONFIG and PATH:
  export KUBECONFIG=$kubeconfig PATH=$root/_output/bin:$bin:\$PATH
  kubectl trace-debug pod/demo -c shell -e 'uretprobe:/proc/\$container_pid/root/bin/bash:readline { printf("%s\n", str(retval)); }'
  (and type into the shell with: kubectl attach -it demo -c shell)
Stop the cluster with: make cluster-down
MSG
