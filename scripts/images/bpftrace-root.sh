#!/usr/bin/env bash
# Prints the directory of a Debian sid root filesystem with bpftrace
# installed: the newest bpftrace Debian ships, which the runner image carries.
# Made once with debootstrap from Debian's packages (about a minute and
# 560 MB) and cached; remove the directory to take a newer bpftrace.
set -euo pipefail
cache=${TRACE_DEBUG_CACHE:-/var/cache/kubectl-trace-debug}
dir=$cache/bpftrace-sid
# The Debian mirror the machine's apt uses.
mirror=${DEBIAN_MIRROR:-$(grep -rhoE '^(URIs:|deb) +https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null | head -1 | awk '{print $2}' || true)}
mirror=${mirror:-http://deb.debian.org/debian}
if [ ! -f "$dir/.complete" ]; then
  command -v debootstrap >/dev/null || { echo "bpftrace-root: debootstrap is missing: run scripts/deps.sh" >&2; exit 1; }
  echo "[images] making a Debian sid root filesystem with bpftrace (debootstrap from $mirror, once)" >&2
  rm -rf "$dir.tmp" "$dir"; mkdir -p "$cache"
  debootstrap --variant=minbase --include=bpftrace sid "$dir.tmp" "$mirror" >"$cache/debootstrap.log" 2>&1 ||
    { echo "bpftrace-root: debootstrap failed; see $cache/debootstrap.log" >&2; exit 1; }
  touch "$dir.tmp/.complete"; mv "$dir.tmp" "$dir"
fi
echo "$dir"
