#!/usr/bin/env bash
# Builds the project's images without Docker and imports them into the local
# cluster's containerd (scripts/cluster/up.sh calls it):
#   pause   the pod sandbox (static Go binary)
#   demo    the demo target: images/demo's web server at /app/server and /bin/bash
#   runner  the tracer: trace-debug-runner and Debian's bpftrace with its libraries,
#           the same layout as images/runner/Dockerfile, tagged as the client's default
#   runner-native  the runner alone (no bpftrace, no LLVM), for --syscalls and --func
# Each rootfs is a binary plus its ldd closure; scripts/mkimage writes the tarball.
# Usage: build.sh [import]   (without "import" it only writes the tarballs)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$root/scripts/cluster/env.sh"
version=$(cat "$root/VERSION")
out=${TRACE_DEBUG_IMAGE_DIR:-$root/_output/images}
mkdir -p "$out"
export CGO_ENABLED=0

# add_binary ROOTFS PATH [DEST]: copies a binary and its shared libraries.
add_binary() {
  local rootfs=$1 bin=$2 dest=${3:-$2}
  install -D -m 0755 "$bin" "$rootfs$dest"
  ldd "$bin" 2>/dev/null | awk '/=>/ && $3 ~ /^\// {print $3} /^[ \t]*\// {print $1}' | while read -r lib; do
    local to="$rootfs/usr${lib#/usr}"
    [ -e "$to" ] || install -D -m 0755 "$(readlink -f "$lib")" "$to"
  done
}

new_rootfs() { # new_rootfs DIR: an empty merged-/usr tree
  rm -rf "$1"; mkdir -p "$1"/{usr/bin,usr/lib,usr/lib64,usr/sbin,tmp,proc,sys,dev,etc}
  chmod 1777 "$1/tmp"
  for d in bin lib lib64 sbin; do ln -s "usr/$d" "$1/$d"; done
  echo "root:x:0:0:root:/:/bin/sh" > "$1/etc/passwd"
}

# image NAME TAG ENTRYPOINT: tars $work/NAME into $out/NAME.tar, imports it.
image() {
  local name=$1 tag=$2 entry=$3 sum
  sum=$(cd "$work/$name" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
  if [ -f "$out/$name.sum" ] && [ "$(cat "$out/$name.sum")" = "$sum:$tag" ] && [ -f "$out/$name.tar" ]; then
    echo "[images] $tag unchanged" >&2
  else
    go run "$root/scripts/mkimage" -rootfs "$work/$name" -tag "$tag" -entrypoint "$entry" -o "$out/$name.tar"
    echo "$sum:$tag" > "$out/$name.sum"
    echo "[images] built $tag" >&2
  fi
  if [ "${do_import:-}" = 1 ]; then
    if ! ctr --address "$CONTAINERD_SOCK" -n k8s.io images ls -q | grep -qx "$tag" || [ "$(cat "$out/$name.imported" 2>/dev/null)" != "$sum" ]; then
      ctr --address "$CONTAINERD_SOCK" -n k8s.io images import "$out/$name.tar" >/dev/null
      echo "$sum" > "$out/$name.imported"
      echo "[images] imported $tag" >&2
    fi
  fi
}

do_import=0
[ "${1:-}" = import ] && do_import=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$root"

new_rootfs "$work/pause"
go build -trimpath -ldflags="-s -w" -o "$work/pause/pause" ./images/pause
image pause trace-debug.local/pause:1 /pause

new_rootfs "$work/demo"
mkdir -p "$work/demo/app"
go build -trimpath -o "$work/demo/app/server" ./images/demo
add_binary "$work/demo" /bin/bash /usr/bin/bash
image demo trace-debug.local/demo:1 /app/server

new_rootfs "$work/runner"
go build -trimpath -ldflags="-s -w" -o "$work/runner/usr/local/bin/trace-debug-runner" ./bpf/cmd/trace-debug-runner
add_binary "$work/runner" "$(command -v bpftrace)" /usr/bin/bpftrace
# bpftrace compiles tracepoint structs and casts with its embedded clang,
# which reads linux/version.h and clang's own builtin headers; it asks the
# clang driver for the system include paths (`sh -c "clang-14 -Wp,-v ..."`).
add_binary "$work/runner" /bin/dash /usr/bin/dash
ln -s dash "$work/runner/usr/bin/sh"
for cl in /usr/bin/clang-[0-9]*; do add_binary "$work/runner" "$(readlink -f "$cl")" "$cl"; done
install -D -m 0644 /usr/include/linux/version.h "$work/runner/usr/include/linux/version.h"
for inc in /usr/lib/llvm-*/lib/clang/*/include; do
  mkdir -p "$work/runner$inc" && cp -a "$inc/." "$work/runner$inc/"
done
image runner "ghcr.io/kubectl-trace-debug/runner:$version" /usr/local/bin/trace-debug-runner

new_rootfs "$work/runner-native"
install -D -m 0755 "$work/runner/usr/local/bin/trace-debug-runner" "$work/runner-native/usr/local/bin/trace-debug-runner"
image runner-native "ghcr.io/kubectl-trace-debug/runner:$version-native" /usr/local/bin/trace-debug-runner
