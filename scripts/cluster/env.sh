# Shared settings of the local cluster scripts (sourced, not run).
# Everything lives under CLUSTER_DIR; processes are recorded in CLUSTER_DIR/pids.
CLUSTER_DIR=${TRACE_DEBUG_CLUSTER_DIR:-/var/lib/kubectl-trace-debug/cluster}
NODE_NAME=trace-debug-node
# A second node on the same machine (its own kubelet, containerd, pod subnet),
# tainted so that only pods that ask for it (a workload spread over nodes)
# land there.
NODE2_NAME=trace-debug-node-2
NODE2_TAINT_KEY=trace-debug.io/second-node
KUBECONFIG_PATH=$CLUSTER_DIR/admin.kubeconfig
CONTAINERD_SOCK=$CLUSTER_DIR/containerd/containerd.sock
CONTAINERD2_SOCK=$CLUSTER_DIR/containerd2/containerd.sock
PIDS_DIR=$CLUSTER_DIR/pids
LOG_DIR=$CLUSTER_DIR/logs
SAVED_DIR=$CLUSTER_DIR/saved
# The host sysctls the kubelet (and the CNI bridge) may change; saved at up, restored at down.
SAVED_SYSCTLS="vm.overcommit_memory kernel.panic kernel.panic_on_oops net.ipv4.ip_forward"
CNI_BRIDGE=tdbr0
CNI_BRIDGE2=tdbr1
# Paths outside CLUSTER_DIR that the kubelet, containerd and its shims create.
STRAY_PATHS="/var/log/containers /var/log/pods /var/lib/kubelet /run/containerd /etc/cni /opt/cni"
HOSTS_LINE="127.0.0.1 $NODE_NAME $NODE2_NAME # kubectl-trace-debug local cluster"

log() { printf '[cluster] %s\n' "$*" >&2; }
