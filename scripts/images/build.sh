#!/usr/bin/env bash
# Builds the project's images without Docker and imports them into the local
# cluster's containerd (scripts/cluster/up.sh calls it):
#   pause   the pod sandbox (static Go binary)
#   demo    the demo target: images/demo's web server at /app/server (and
#           stripped, -s -w, at /app/server-stripped), images/parked's
#           goroutines, images/callers' native targets (/app/callers-c, -c-fp,
#           -cpp, -rust), images/nopprof (no memory profile), /bin/bash
#           and Debian's gzip
#   runner  the tracer: trace-debug-runner and the newest bpftrace Debian ships
#           (suite sid, >= 0.24.2) with its libraries, the same packages as
#           images/runner/Dockerfile, tagged as the client's default
#   runner-native  the runner alone (no bpftrace, no LLVM), for --syscalls and --func
#   runner-bpftrace017  the runner with Debian 12's bpftrace 0.17: an older
#           user image, for the tests and benchmarks that compare the two
#   bpftrace-byhand  the runner image's bpftrace with a shell and mount, no
#           runner: what a person runs with kubectl debug (make bench's floor)
# Each rootfs is a binary plus its ldd closure; scripts/mkimage writes the tarball.
# The sid root filesystem bpftrace is taken from is made once with debootstrap
# from Debian's packages and cached (scripts/images/bpftrace-root.sh).
# Usage: build.sh [import]   (without "import" it only writes the tarballs)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$root/scripts/cluster/env.sh"
version=$(cat "$root/VERSION")
out=${TRACE_DEBUG_IMAGE_DIR:-$root/_output/images}
mkdir -p "$out"
export CGO_ENABLED=0

# add_binary ROOTFS PATH [DEST [FROM]]: copies a binary and its shared
# libraries; with FROM, both come from the root filesystem FROM (ldd runs there).
add_binary() {
  local rootfs=$1 bin=$2 dest=${3:-$2} from=${4:-}
  install -D -m 0755 "$from$bin" "$rootfs$dest"
  if [ -n "$from" ]; then chroot "$from" ldd "$bin"; else ldd "$bin"; fi 2>/dev/null |
    awk '/=>/ && $3 ~ /^\// {print $3} /^[ \t]*\// {print $1}' | while read -r lib; do
    local to="$rootfs/usr${lib#/usr}" real
    if [ -n "$from" ]; then real=$from$(chroot "$from" readlink -f "$lib"); else real=$(readlink -f "$lib"); fi
    [ -e "$to" ] || install -D -m 0755 "$real" "$to"
  done
}

# bpftrace_version ROOT: the version of ROOT's bpftrace, e.g. 0.27.1.
bpftrace_version() { chroot "$1" /usr/bin/bpftrace --version | sed -n 's/^bpftrace v\{0,1\}\([0-9][0-9.]*\).*/\1/p'; }

new_rootfs() { # new_rootfs DIR: an empty merged-/usr tree
  rm -rf "$1"; mkdir -p "$1"/{usr/bin,usr/lib,usr/lib64,usr/sbin,tmp,proc,sys,dev,etc}
  chmod 1777 "$1/tmp"
  for d in bin lib lib64 sbin; do ln -s "usr/$d" "$1/$d"; done
  echo "root:x:0:0:root:/:/bin/sh" > "$1/etc/passwd"
}

# image NAME TAG ENTRYPOINT [BPFTRACE_VERSION]: tars $work/NAME into
# $out/NAME.tar and imports it; a bpftrace version becomes the image's label
# and its TRACE_DEBUG_BPFTRACE_VERSION, which spares the runner asking.
image() {
  local name=$1 tag=$2 entry=$3 sum; shift 3
  local labels=()
  if [ $# -gt 0 ]; then labels=(-label "io.github.kubectl-trace-debug.bpftrace-version=$1" -env "TRACE_DEBUG_BPFTRACE_VERSION=$1"); fi
  sum=$( (cd "$work/$name" && find . -type f -print0 | sort -z | xargs -0 sha256sum; echo "$*") | sha256sum | cut -c1-16)
  if [ -f "$out/$name.sum" ] && [ "$(cat "$out/$name.sum")" = "$sum:$tag" ] && [ -f "$out/$name.tar" ]; then
    echo "[images] $tag unchanged" >&2
  else
    go run "$root/scripts/mkimage" -rootfs "$work/$name" -tag "$tag" -entrypoint "$entry" "${labels[@]}" -o "$out/$name.tar"
    echo "$sum:$tag" > "$out/$name.sum"
    echo "[images] built $tag" >&2
  fi
  if [ "${do_import:-}" = 1 ]; then # into each node's containerd that runs
    local sock mark
    for sock in "$CONTAINERD_SOCK" "$CONTAINERD2_SOCK"; do
      [ -S "$sock" ] || continue
      mark=$out/$name.imported.$(basename "$(dirname "$sock")")
      if ! ctr --address "$sock" -n k8s.io images ls -q | grep -qx "$tag" || [ "$(cat "$mark" 2>/dev/null)" != "$sum" ]; then
        ctr --address "$sock" -n k8s.io images import "$out/$name.tar" >/dev/null
        echo "$sum" > "$mark"
        echo "[images] imported $tag into $(basename "$(dirname "$sock")")" >&2
      fi
    done
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
go build -trimpath -ldflags="-s -w" -o "$work/demo/app/server-stripped" ./images/demo
# The goroutine dump's target, stripped, built by the oldest and the newest
# supported Go releases (the module proxy serves the toolchains).
for tc in go1.21.13 go1.27.3; do
	(cd images/parked && GOTOOLCHAIN=$tc go build -trimpath -ldflags="-s -w" -o "$work/demo/app/parked-${tc%.*}" .)
done
# A Go program whose linker turns the memory profile off (--heap's error).
go build -trimpath -ldflags="-s -w" -o "$work/demo/app/nopprof" ./images/nopprof
add_binary "$work/demo" /bin/bash /usr/bin/bash
# --cpu's native targets: two callers of one leaf at 3:1 in C, C++ and Rust,
# built as Debian builds its packages (optimised, no frame pointers), and a
# program from Debian's archive as it ships (gzip: stripped, no frame
# pointers).
gcc -O2 -o "$work/callers-c" images/callers/callers.c
gcc -O2 -fno-omit-frame-pointer -o "$work/callers-c-fp" images/callers/callers.c
g++ -O2 -o "$work/callers-cpp" images/callers/callers.cpp
rustc -C opt-level=3 -C strip=debuginfo -o "$work/callers-rust" images/callers/callers.rs
for b in callers-c callers-c-fp callers-cpp callers-rust; do add_binary "$work/demo" "$work/$b" "/app/$b"; done
add_binary "$work/demo" /bin/gzip /usr/bin/gzip
image demo trace-debug.local/demo:1 /app/server

runner_bin=$work/trace-debug-runner
go build -trimpath -ldflags="-s -w" -o "$runner_bin" ./bpf/cmd/trace-debug-runner

# The default runner: bpftrace from Debian sid. bpftrace >= 0.24 compiles with
# its embedded clang and needs no driver or headers for BTF-typed programs.
sid=$("$here/bpftrace-root.sh")
sid_version=$(bpftrace_version "$sid")
if ! printf '%s\n0.24.2\n' "$sid_version" | sort -V -C -r; then
  echo "[images] Debian sid's bpftrace is $sid_version; the runner needs >= 0.24.2 (0.23 fails in a pod's PID namespace)" >&2
  exit 1
fi
new_rootfs "$work/runner"
install -D -m 0755 "$runner_bin" "$work/runner/usr/local/bin/trace-debug-runner"
add_binary "$work/runner" /usr/bin/bpftrace /usr/bin/bpftrace "$sid"
image runner "ghcr.io/kubectl-trace-debug/runner:$version" /usr/local/bin/trace-debug-runner "$sid_version"
echo "$sid_version" > "$out/runner.bpftrace-version"

# The images only the tests and benchmarks use; `make demo` does without
# them (TRACE_DEBUG_IMAGES=demo) and `make test` builds them.
if [ "${TRACE_DEBUG_IMAGES:-all}" = all ]; then
  # The by-hand floor for make bench: the same bpftrace with a shell and mount,
  # as a person would run it with kubectl debug (tracefs mounted first).
  new_rootfs "$work/byhand"
  add_binary "$work/byhand" /usr/bin/bpftrace /usr/bin/bpftrace "$sid"
  add_binary "$work/byhand" /bin/dash /usr/bin/dash
  add_binary "$work/byhand" /bin/mount /usr/bin/mount
  ln -s dash "$work/byhand/usr/bin/sh"
  image byhand "trace-debug.local/bpftrace-byhand:$version" /usr/bin/sh "$sid_version"

  # An older user image: Debian 12's bpftrace 0.17, which compiles tracepoint
  # structs and casts with its embedded clang, reading linux/version.h and
  # clang's builtin headers, and asks the clang driver for the system include
  # paths (`sh -c "clang-14 -Wp,-v ..."`).
  new_rootfs "$work/runner017"
  install -D -m 0755 "$runner_bin" "$work/runner017/usr/local/bin/trace-debug-runner"
  add_binary "$work/runner017" "$(command -v bpftrace)" /usr/bin/bpftrace
  add_binary "$work/runner017" /bin/dash /usr/bin/dash
  ln -s dash "$work/runner017/usr/bin/sh"
  for cl in /usr/bin/clang-[0-9]*; do add_binary "$work/runner017" "$(readlink -f "$cl")" "$cl"; done
  install -D -m 0644 /usr/include/linux/version.h "$work/runner017/usr/include/linux/version.h"
  for inc in /usr/lib/llvm-*/lib/clang/*/include; do
    mkdir -p "$work/runner017$inc" && cp -a "$inc/." "$work/runner017$inc/"
  done
  image runner017 "trace-debug.local/runner-bpftrace017:$version" /usr/local/bin/trace-debug-runner "$(bpftrace --version | sed -n 's/^bpftrace v\{0,1\}\([0-9.]*\).*/\1/p')"
fi

new_rootfs "$work/runner-native"
install -D -m 0755 "$runner_bin" "$work/runner-native/usr/local/bin/trace-debug-runner"
image runner-native "ghcr.io/kubectl-trace-debug/runner:$version-native" /usr/local/bin/trace-debug-runner
