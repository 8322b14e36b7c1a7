#!/bin/sh
# The client's packages (debug/...) together keep at least MIN% (75 by
# default) of their statements covered by their unit tests, counted across
# packages: a command test that drives a session covers the session's code
# too. The test fake (debug/kube/kubetest) is not counted.
set -eu
cd "$(dirname "$0")/.."
min=${MIN:-75}
pkgs=$(go list ./debug/... | grep -v /kubetest)
mkdir -p _output
go test -race -count=1 -coverpkg="$(echo $pkgs | tr ' ' ,)" -coverprofile=_output/client.cover $pkgs
total=$(go tool cover -func=_output/client.cover | awk '/^total:/ { sub("%", "", $3); print $3 }')
echo "client packages: ${total}% of statements covered by unit tests (at least ${min}% wanted)"
awk -v t="$total" -v m="$min" 'BEGIN { exit !(t >= m) }' || {
	echo "client coverage ${total}% is below ${min}%: see go tool cover -func=_output/client.cover" >&2
	exit 1
}
