#!/usr/bin/env bash
# Writes the configuration files of containerd, CNI, the scheduler and the
# kubelet under $CLUSTER_DIR (called by up.sh; safe to run again).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"
PKI=$CLUSTER_DIR/pki
mkdir -p "$CLUSTER_DIR"/{flexvolume,controller-manager}

# node N CONTAINERD CNI KUBELET SOCKET BRIDGE SUBNET PORT HEALTHZ [TAINT]:
# one node's containerd, CNI and kubelet configuration.
node() {
  local cd=$1 cni=$2 kl=$3 sock=$4 bridge=$5 subnet=$6 port=$7 healthz=$8 taint=${9:-} taints=""
  [ -n "$taint" ] && taints="registerWithTaints: [{key: $taint, value: \"true\", effect: NoSchedule}]"
  mkdir -p "$CLUSTER_DIR"/{$cd,$cni/net.d,$kl/root,$kl/pki,$kl/manifests,$kl/pod-logs}
cat > "$CLUSTER_DIR/$cd/config.toml" <<TOML
version = 2
root = "$CLUSTER_DIR/$cd/root"
state = "$CLUSTER_DIR/$cd/state"
[grpc]
  address = "$sock"
[ttrpc]
  address = "$sock.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "trace-debug.local/pause:1"
  disable_apparmor = true
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    snapshotter = "overlayfs"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$CLUSTER_DIR/$cni/net.d"
TOML

cat > "$CLUSTER_DIR/$cni/net.d/10-trace-debug.conflist" <<JSON
{
  "cniVersion": "0.4.0",
  "name": "trace-debug",
  "plugins": [
    {"type": "bridge", "bridge": "$bridge", "isGateway": true, "ipMasq": false,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "$subnet"}]],
              "dataDir": "$CLUSTER_DIR/$cni/ipam"}},
    {"type": "loopback"}
  ]
}
JSON


cat > "$CLUSTER_DIR/$kl/config.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: $port
healthzPort: $healthz
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
tlsCertFile: $PKI/$kl.crt
tlsPrivateKeyFile: $PKI/$kl.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization:
  mode: Webhook
cgroupDriver: cgroupfs
failCgroupV1: false
cgroupsPerQOS: false
enforceNodeAllocatable: []
failSwapOn: false
oomScoreAdj: 0
makeIPTablesUtilChains: false
imageGCHighThresholdPercent: 100
# Pull images in parallel: one registry that hangs (the tests' stand-in for a
# slow one) must not hold up every other pod's containers.
serializeImagePulls: false
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%"}
staticPodPath: $CLUSTER_DIR/$kl/manifests
podLogsDir: $CLUSTER_DIR/$kl/pod-logs
resolvConf: /etc/resolv.conf
$taints
YAML
}

node containerd cni kubelet "$CONTAINERD_SOCK" "$CNI_BRIDGE" 10.244.0.0/24 10250 10248
node containerd2 cni2 kubelet2 "$CONTAINERD2_SOCK" "$CNI_BRIDGE2" 10.244.1.0/24 10260 10268 "$NODE2_TAINT_KEY"

cat > "$CLUSTER_DIR/scheduler.yaml" <<YAML
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection:
  kubeconfig: $CLUSTER_DIR/scheduler.kubeconfig
leaderElection:
  leaderElect: false
YAML

