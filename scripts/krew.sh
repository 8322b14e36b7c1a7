#!/usr/bin/env bash
# Builds the release archives of the client for each krew platform and writes
# _output/krew/trace-debug.yaml with their real sha256 (make krew). A release
# sets RUNNER_DIGEST and RUNNER_NATIVE_DIGEST (sha256:... of the pushed runner
# images), so the client refers to its images by digest.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
version=$(cat VERSION)
out=_output/krew
rm -rf "$out" && mkdir -p "$out"
manifest=$(cat krew/trace-debug.yaml.in)
manifest=${manifest//@VERSION@/$version}
for platform in linux/amd64 linux/arm64 darwin/arm64; do
  os=${platform%/*} arch=${platform#*/}
  dir=$(mktemp -d)
  CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath \
    -ldflags "-s -w -X github.com/trace-debug/kubectl-trace-debug/debug.version=$version -X github.com/trace-debug/kubectl-trace-debug/debug.imageDigest=${RUNNER_DIGEST:-} -X github.com/trace-debug/kubectl-trace-debug/debug.nativeImageDigest=${RUNNER_NATIVE_DIGEST:-}" -o "$dir/kubectl-trace_debug" .
  cp scripts/kubectl_complete-trace_debug LICENSE "$dir/"
  archive="$out/kubectl-trace_debug-$os-$arch.tar.gz"
  tar -C "$dir" -czf "$archive" kubectl-trace_debug kubectl_complete-trace_debug LICENSE
  rm -rf "$dir"
  sum=$(sha256sum "$archive" | cut -d' ' -f1)
  manifest=${manifest//@SHA256_${os}_${arch}@/$sum}
done
grep -v '^# krew manifest template' <<<"$manifest" > "$out/trace-debug.yaml"
if grep -q '@' "$out/trace-debug.yaml"; then echo "krew: unfilled placeholder in the manifest" >&2; exit 1; fi
echo "$out/trace-debug.yaml"
