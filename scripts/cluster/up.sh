#!/usr/bin/env bash
# Starts the local two-node Kubernetes cluster (etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, and per node a containerd and a
# kubelet, all on loopback; the second node is tainted), builds and
# imports the images the project needs, waits for the node to be Ready and
# prints the kubeconfig path on stdout. Idempotent: a running cluster is reused.
# scripts/cluster/down.sh undoes everything this does.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$here/env.sh"
. "$here/pki.sh"

[ "$(id -u)" = 0 ] || { echo "up.sh: the local cluster needs root (it runs containerd and the kubelet)" >&2; exit 1; }
# On a cold machine Kubernetes compiles (CPU, about 10 minutes; Go alone)
# while the Debian packages install and the runner's bpftrace root filesystem
# is made (network and disk); each is done once, then cached.
k8s_out=$(mktemp)
"$here/build-k8s.sh" >"$k8s_out" &
k8s=$!
"$root/scripts/deps.sh" >&2
"$root/scripts/images/bpftrace-root.sh" >/dev/null &
sid=$!
wait "$k8s" || { echo "up.sh: building Kubernetes failed (see above)" >&2; exit 1; }
BIN=$(cat "$k8s_out"); rm -f "$k8s_out"
wait "$sid" || { echo "up.sh: the runner's bpftrace root filesystem could not be made (see above)" >&2; exit 1; }
mkdir -p "$CLUSTER_DIR" "$PIDS_DIR" "$LOG_DIR" "$SAVED_DIR"

running() { local f=$PIDS_DIR/$1; [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null; }
start() {
  local name=$1; shift
  if running "$name"; then return 0; fi
  log "starting $name"
  setsid "$@" >>"$LOG_DIR/$name.log" 2>&1 < /dev/null &
  echo $! > "$PIDS_DIR/$name"
}
wait_for() { # wait_for WHAT SECONDS CMD...
  local what=$1 secs=$2; shift 2
  for _ in $(seq $((secs * 4))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.25; done
  log "timed out waiting for $what; see $LOG_DIR"; return 1
}

# Host state the cluster may change, recorded once before anything starts.
if [ ! -f "$SAVED_DIR/sysctls" ]; then
  for s in $SAVED_SYSCTLS; do echo "$s=$(sysctl -n "$s")"; done > "$SAVED_DIR/sysctls"
fi
# Paths the kubelet and containerd create outside the cluster directory: down.sh
# removes only the ones that did not exist before.
# Network namespaces that exist before the cluster: down.sh leaves these alone.
if [ ! -f "$SAVED_DIR/netns" ]; then
  ip netns list 2>/dev/null | awk '{print $1}' > "$SAVED_DIR/netns"
fi
if [ ! -f "$SAVED_DIR/absent-paths" ]; then
  for p in $STRAY_PATHS; do [ -e "$p" ] || echo "$p"; done > "$SAVED_DIR/absent-paths"
fi
if ! grep -q "[[:space:]]$NODE2_NAME\b" /etc/hosts; then
  echo "$HOSTS_LINE" >> /etc/hosts
  touch "$SAVED_DIR/hosts-line-added"
fi

make_pki
PKI=$CLUSTER_DIR/pki
"$here/write-configs.sh"

start etcd etcd --name trace-debug --data-dir "$CLUSTER_DIR/etcd" \
  --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
  --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
  --initial-cluster trace-debug=http://127.0.0.1:2380
start containerd containerd --config "$CLUSTER_DIR/containerd/config.toml"
start containerd2 containerd --config "$CLUSTER_DIR/containerd2/config.toml"
wait_for containerd 30 ctr --address "$CONTAINERD_SOCK" version
wait_for containerd2 30 ctr --address "$CONTAINERD2_SOCK" version
"$root/scripts/images/build.sh" import >&2

start kube-apiserver "$BIN/kube-apiserver" \
  --etcd-servers=http://127.0.0.1:2379 --bind-address=127.0.0.1 --advertise-address=127.0.0.1 \
  --secure-port=6443 --endpoint-reconciler-type=none --authorization-mode=Node,RBAC \
  --allow-privileged=true --service-cluster-ip-range=10.96.0.0/24 \
  --client-ca-file="$PKI/ca.crt" --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
  --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
  --kubelet-certificate-authority="$PKI/ca.crt" --kubelet-preferred-address-types=Hostname,InternalIP \
  --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
  --service-account-issuer=https://kubernetes.default.svc \
  --disable-admission-plugins=ServiceAccount --enable-admission-plugins=NodeRestriction
wait_for kube-apiserver 60 "$BIN/kubectl" --kubeconfig "$KUBECONFIG_PATH" get --raw /readyz

start kube-controller-manager "$BIN/kube-controller-manager" \
  --kubeconfig="$CLUSTER_DIR/controller-manager.kubeconfig" --leader-elect=false \
  --bind-address=127.0.0.1 --cert-dir="$CLUSTER_DIR/controller-manager" \
  --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
  --use-service-account-credentials=false --flex-volume-plugin-dir="$CLUSTER_DIR/flexvolume"
start kube-scheduler "$BIN/kube-scheduler" --config="$CLUSTER_DIR/scheduler.yaml" --bind-address=127.0.0.1
start kubelet "$BIN/kubelet" --config="$CLUSTER_DIR/kubelet/config.yaml" \
  --kubeconfig="$CLUSTER_DIR/kubelet.kubeconfig" --hostname-override="$NODE_NAME" \
  --container-runtime-endpoint="unix://$CONTAINERD_SOCK" --root-dir="$CLUSTER_DIR/kubelet/root" \
  --cert-dir="$CLUSTER_DIR/kubelet/pki"
start kubelet2 "$BIN/kubelet" --config="$CLUSTER_DIR/kubelet2/config.yaml" \
  --kubeconfig="$CLUSTER_DIR/kubelet2.kubeconfig" --hostname-override="$NODE2_NAME" \
  --container-runtime-endpoint="unix://$CONTAINERD2_SOCK" --root-dir="$CLUSTER_DIR/kubelet2/root" \
  --cert-dir="$CLUSTER_DIR/kubelet2/pki"

node_ready() { # node_ready NODE TAINTS: Ready, with exactly these taints
  "$BIN/kubectl" --kubeconfig "$KUBECONFIG_PATH" get node "$1" \
    -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}{" "}{.spec.taints[*].key}' | grep -qx "True $2"
}
wait_for "node $NODE_NAME Ready and untainted" 120 node_ready "$NODE_NAME" ""
wait_for "node $NODE2_NAME Ready, tainted $NODE2_TAINT_KEY" 120 node_ready "$NODE2_NAME" "$NODE2_TAINT_KEY"
# The kubelet sets these at start; give the machine its own values back.
while IFS='=' read -r k v; do
  [ "$k" = net.ipv4.ip_forward ] && continue
  sysctl -q -w "$k=$v" || true
done < "$SAVED_DIR/sysctls"
log "cluster ready; kubectl is $BIN/kubectl"
echo "$KUBECONFIG_PATH"
