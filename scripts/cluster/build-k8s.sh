#!/usr/bin/env bash
# Builds the Kubernetes binaries the local cluster runs (kube-apiserver, kubelet,
# kube-scheduler, kube-controller-manager, kubectl) from the k8s.io/kubernetes
# module pinned in scripts/cluster/k8s, and caches them by version so that a
# second run costs nothing. Prints the directory that holds the binaries.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
version=$(awk '$1=="require" && $2=="k8s.io/kubernetes" {print $3}' "$here/k8s/go.mod")
minor=$(echo "$version" | cut -d. -f2)
cache=${TRACE_DEBUG_CACHE:-/var/cache/kubectl-trace-debug}
out="$cache/k8s-$version"
mkdir -p "$out"
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done
cd "$here/k8s"
for cmd in kube-apiserver kubelet kube-scheduler kube-controller-manager kubectl; do
  if [ ! -x "$out/$cmd" ]; then
    echo "building $cmd $version (cold: minutes; cached afterwards in $out)" >&2
    CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$out/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd"
    mv "$out/$cmd.tmp" "$out/$cmd"
  fi
done
echo "$out"
