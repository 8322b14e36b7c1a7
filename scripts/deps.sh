#!/usr/bin/env bash
# Installs what the project needs on a Debian 12 machine, once: the packages of
# the local cluster (etcd, containerd, runc, CNI plugins), bpftrace for the
# runner image, clang/llvm for the eBPF programs, openssl for the PKI, and
# Chromium, the real browser the flame graph is opened in by the tests, and
# python3-junitparser, the independent JUnit reader the reports are held to;
# gcc, g++ and rustc build the native targets --cpu is tested on, binutils'
# readelf is what their call-frame tables are held to, libc6-dbg the separate
# debug file libc is named from.
# Quiet and quick when everything is there already.
set -euo pipefail
pkgs="curl tmux gcc g++ binutils rustc libc6-dbg chromium debootstrap linux-libc-dev etcd-server containerd runc containernetworking-plugins bpftrace iptables iproute2 clang llvm libbpf-dev openssl procps python3-junitparser"
missing=""
for p in $pkgs; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=" $p"; done
if [ -n "$missing" ]; then
  echo "[deps] installing:$missing" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
command -v go >/dev/null || { echo "[deps] Go is required (it is at /usr/local/go on the project's machines)" >&2; exit 1; }
