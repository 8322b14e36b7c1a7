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

stop kubelet
# Containers outlive containerd (their shims are separate): end them first.
if [ -S "$CONTAINERD_SOCK" ]; then
  ctr_() { ctr --address "$CONTAINERD_SOCK" -n k8s.io "$@"; }
  for t in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks kill -s SIGKILL "$t" >/dev/null 2>&1; done
  sleep 1
  for t in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks delete -f "$t" >/dev/null 2>&1; done
fi
for name in kube-scheduler kube-controller-manager kube-apiserver containerd etcd; do stop "$name"; done
# Shims of this cluster's containerd only (they name its socket on their command line).
for p in $(pgrep -f "containerd-shim.*-address $CONTAINERD_SOCK" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done

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
ip link show "$CNI_BRIDGE" >/dev/null 2>&1 && ip link delete "$CNI_BRIDGE"
[ -f "$SAVED_DIR/absent-paths" ] && while read -r p; do rm -rf "$p"; done < "$SAVED_DIR/absent-paths"
rm -rf "$CLUSTER_DIR"
rmdir "$(dirname "$CLUSTER_DIR")" 2>/dev/null
log "cluster stopped and cleaned"
exit 0
