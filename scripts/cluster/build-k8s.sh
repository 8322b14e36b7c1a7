#!/usr/bin/env bash
# Builds the Kubernetes binaries the local cluster runs (kube-apiserver, kubelet,
# kube-scheduler, kube-controller-manager, kubectl) from the k8s.io/kubernetes
# module pinned in scripts/cluster/k8s, and caches them by version so that a
# second run costs nothing. Prints the directory that holds the binaries.
#
# A cold build is most of a fresh machine's set-up, so it is made as cheap as
# Kubernetes' own build allows: the `providerless` build tag (Kubernetes'
# build without cloud-provider code), one `go build` of all five commands
# (their shared packages compiled once, the links overlapping), and progress
# on stderr every 20 s (packages compiled of those to compile, the command
# being linked, the time so far, where it is cached).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
version=$(awk '$1=="require" && $2=="k8s.io/kubernetes" {print $3}' "$here/k8s/go.mod")
minor=$(echo "$version" | cut -d. -f2)
cache=${TRACE_DEBUG_CACHE:-/var/cache/kubectl-trace-debug}
out="$cache/k8s-$version"
mkdir -p "$out"
cmds="kube-apiserver kubelet kube-scheduler kube-controller-manager kubectl"
missing=""
for cmd in $cmds; do [ -x "$out/$cmd" ] || missing+=" $cmd"; done
if [ -z "$missing" ]; then
  echo "$out"
  exit 0
fi

ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done
flags=(-trimpath -tags providerless -ldflags "$ldflags")
pkgs=()
for cmd in $missing; do pkgs+=("k8s.io/kubernetes/cmd/$cmd"); done

cd "$here/k8s"
start=$(date +%s)
say() { echo "[k8s] $*" >&2; }
say "building$missing $version once into $out (cold: about 10 minutes on 2 cores; cached afterwards)"
say "listing the packages to compile (and downloading their modules)"
total=$(go list -deps -tags providerless "${pkgs[@]}" | wc -l)
tmp=$(mktemp -d "$cache/k8s-build.XXXXXX")
log="$tmp/build.log"
: >"$log"
# go build -v names each package as it is compiled (a command's name when it
# is linked); the reporter counts them.
(
  while sleep 20; do
    n=$(grep -c . "$log" || true)
    linking=$(grep -o 'k8s.io/kubernetes/cmd/[a-z-]*$' "$log" | sed 's|.*/||' | tr '\n' ' ' || true)
    el=$(( $(date +%s) - start ))
    say "$(printf '%d:%02d' $((el / 60)) $((el % 60))) elapsed: $n of at most $total packages compiled${linking:+; linking $linking}"
  done
) &
reporter=$!
trap 'kill $reporter 2>/dev/null; rm -rf "$tmp"' EXIT
CGO_ENABLED=0 go build -v "${flags[@]}" -o "$tmp/" "${pkgs[@]}" 2>"$log" || { cat "$log" >&2; exit 1; }
for cmd in $missing; do mv "$tmp/$cmd" "$out/$cmd"; done
el=$(( $(date +%s) - start ))
say "built$missing in $(printf '%d:%02d' $((el / 60)) $((el % 60))) ($out)"
echo "$out"
