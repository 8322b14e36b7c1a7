#!/usr/bin/env bash
# The main job: starts the local cluster, deploys the demo server, and traces
# it with `kubectl trace-debug` while sending it requests: the seed's Go
# return probe prints every value main.counterValue returns (rewritten by the
# runner into uprobes at the function's RETs, so the server lives), then the
# map summary; then the same function through the native engine.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
# The demo needs the runner, demo and pause images, not the tests' own.
kubeconfig=$(TRACE_DEBUG_IMAGES=${TRACE_DEBUG_IMAGES:-demo} scripts/cluster/up.sh)
export KUBECONFIG=$kubeconfig
bin=$(scripts/cluster/build-k8s.sh)
# kubectl finds the plugin (kubectl-trace_debug) on PATH.
export PATH="$root/_output/bin:$bin:$PATH"

kubectl apply -f scripts/demo/demo-pod.yaml >&2
kubectl wait --for=condition=Ready pod/demo --timeout=120s >&2

# Send requests once the trace has begun (its BEGIN line), then stop it.
( for _ in $(seq 300); do grep -q "tracing main.counterValue" "$root/_output/demo.out" 2>/dev/null && break; sleep 0.1; done
  for _ in 1 2 3 4 5; do curl -s http://127.0.0.1:18080/ >/dev/null; sleep 0.3; done ) &

echo "+ kubectl trace-debug pod/demo --duration 8s -e '...uretprobe on main.counterValue...'" >&2
kubectl trace-debug pod/demo --duration 8s -e '
BEGIN { printf("tracing main.counterValue in pod demo; Ctrl-C to stop\n"); }
uretprobe:/proc/$container_pid/exe:"main.counterValue" {
  @calls = count();
  printf("%s: main.counterValue returned %d\n", comm, retval);
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
