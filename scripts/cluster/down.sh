#!/usr/bin/env bash
# Stops the local cluster that up.sh started and leaves the machine as it was:
# stops only the processes recorded in $CLUSTER_DIR/pids (and the container
# shims of this cluster's own containerd), unmounts what they mounted, removes
# the cgroups runc created, restores the saved sysctls and /etc/hosts, and
# deletes the cluster directory. Safe to run when nothing is running.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"
[ -d "$CLUSTER_DIR" ] || { log "no cluster at $CLUSTER_DIR"; exit 0; }

stop() { # stop NAME: SIGTERM, then SIGKILL after 10 s, by recorded PID only
  local f=$PIDS_DIR/$1 pid
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    log "stopping $1 ($pid)"
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -KILL "$pid" 2>/dev/null
  fi
  rm -f "$f"
}

# Pod sandboxes are torn down through the runtime while the kubelet still
# runs: deleting the pods makes it stop each sandbox, which runs the CNI DEL
# that removes the pod's network namespace and veth.
kubectl_=$(ls "${TRACE_DEBUG_CACHE:-/var/cache/kubectl-trace-debug}"/k8s-*/kubectl 2>/dev/null | head -1)
if [ -n "$kubectl_" ] && [ -f "$KUBECONFIG_PATH" ] && [ -f "$PIDS_DIR/kubelet" ] && kill -0 "$(cat "$PIDS_DIR/kubelet")" 2>/dev/null; then
  log "deleting the pods, so the kubelet tears their sandboxes down"
  "$kubectl_" --kubeconfig "$KUBECONFIG_PATH" delete pods --all --all-namespaces --grace-period=0 --force --wait=false >/dev/null 2>&1
  for _ in $(seq 120); do
    left=$(ip netns list 2>/dev/null | awk '{print $1}' | grep -c '^cni-' || true)
    pods=$("$kubectl_" --kubeconfig "$KUBECONFIG_PATH" get pods -A --no-headers 2>/dev/null | wc -l)
    [ "$left" = 0 ] && [ "$pods" = 0 ] && break
    sleep 0.25
  done
fi
stop kubelet
stop kubelet2
# Containers outlive containerd (their shims are separate): end them first.
for sock in "$CONTAINERD_SOCK" "$CONTAINERD2_SOCK"; do
  [ -S "$sock" ] || continue
  ctr_() { ctr --address "$sock" -n k8s.io "$@"; }
  for t in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks kill -s SIGKILL "$t" >/dev/null 2>&1; done
  sleep 1
  for t in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks delete -f "$t" >/dev/null 2>&1; done
done
for name in kube-scheduler kube-controller-manager kube-apiserver containerd containerd2 etcd; do stop "$name"; done
# Shims of this cluster's containerds only (they name its socket on their command line).
for sock in "$CONTAINERD_SOCK" "$CONTAINERD2_SOCK"; do
  for p in $(pgrep -f "containerd-shim.*-address $sock" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
done

# Mounts under the cluster directory, deepest first.
awk -v d="$CLUSTER_DIR" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r | while read -r m; do
  umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
done
# cgroups runc created for this cluster's containers (empty directories only).
for h in /sys/fs/cgroup/*/k8s.io /sys/fs/cgroup/unified/k8s.io; do
  [ -d "$h" ] && find "$h" -depth -type d -exec rmdir {} \; 2>/dev/null
done

if [ -f "$SAVED_DIR/sysctls" ]; then
  while IFS='=' read -r k v; do sysctl -q -w "$k=$v" 2>/dev/null; done < "$SAVED_DIR/sysctls"
fi
if [ -f "$SAVED_DIR/hosts-line-added" ]; then
  grep -vF "$HOSTS_LINE" /etc/hosts > /etc/hosts.trace-debug.tmp && cat /etc/hosts.trace-debug.tmp > /etc/hosts
  rm -f /etc/hosts.trace-debug.tmp
fi
# Whatever network namespaces the runtime did not tear down (a sandbox that
# outlived its kubelet): remove those that were not there before up.
for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
  grep -qx "$ns" "$SAVED_DIR/netns" 2>/dev/null && continue
  case $ns in cni-*) log "removing leftover network namespace $ns"; ip netns delete "$ns" 2>/dev/null ;; esac
done
for br in "$CNI_BRIDGE" "$CNI_BRIDGE2"; do
  ip link show "$br" >/dev/null 2>&1 && ip link delete "$br"
done
[ -f "$SAVED_DIR/absent-paths" ] && while read -r p; do rm -rf "$p"; done < "$SAVED_DIR/absent-paths"
saved_netns=$(cat "$SAVED_DIR/netns" 2>/dev/null)
rm -rf "$CLUSTER_DIR"
rmdir "$(dirname "$CLUSTER_DIR")" 2>/dev/null
# Check: nothing of the cluster's network is left.
leftover=""
for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
  grep -qx "$ns" <<<"$saved_netns" || leftover+=" netns:$ns"
done
for br in "$CNI_BRIDGE" "$CNI_BRIDGE2"; do
  ip link show "$br" >/dev/null 2>&1 && leftover+=" bridge:$br"
  for l in $(ip -o link show type veth 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do
    ip -d link show "$l" 2>/dev/null | grep -q "master $br" && leftover+=" veth:$l"
  done
done
if [ -n "$leftover" ]; then
  log "left behind:$leftover"
  exit 1
fi
log "cluster stopped and cleaned"
exit 0
