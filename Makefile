# kubectl trace-debug — build, test, benchmark, and the local cluster.
# `make demo` runs the main job, `make test` all the tests (see README.md).
VERSION := $(shell cat VERSION)
PKG := github.com/trace-debug/kubectl-trace-debug
LDFLAGS := -X $(PKG)/debug.version=$(VERSION)
BIN := _output/bin
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: all build deps cluster-up cluster-down images demo test unit-test e2e-test bench krew generate clean

all: build

# Static, and built as the local cluster's Kubernetes is (same flags, same
# module versions), so a cold machine compiles client-go and its kin once.
build:
	CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/kubectl-trace_debug .
	install -m 0755 scripts/kubectl_complete-trace_debug $(BIN)/

deps:
	scripts/deps.sh

images:
	scripts/images/build.sh import

cluster-up:
	scripts/cluster/up.sh

cluster-down:
	scripts/cluster/down.sh

# The main job: a real trace of the demo pod on the local cluster.
demo: build
	scripts/demo/run.sh

# Tests that load real eBPF carry the build tag root: `go test ./...` runs
# the rest as any user. Here everything runs, as root, with the race
# detector. The runner's tests run twice: with Debian 12's bpftrace 0.17 (an
# older user image) and with the runner image's own (Debian sid's, from the
# cached root filesystem), whose tools (/usr/sbin/*.bt) are the corpus the
# runner's composition is checked against. Tests that drive Debian's
# packages (tag external) run too: the flame graph in headless Chromium, the
# JUnit reports read by python3-junitparser, names from separate debug files
# (libc6-dbg's). The client's packages must keep
# 75% of their statements covered by unit tests (scripts/client-coverage.sh).
# The CPU profile's agreement with Go's own profiler runs alone, after the
# rest: with other packages' tests holding both CPUs the two profilers part
# by 5 to 7 points (measured with the code of before this check's last
# change too), which says nothing of the unwinder.
unit-test:
	go vet ./...
	go vet -tags root ./...
	go vet -tags external ./bpf/stacks ./bpf/symbols ./debug/junit
	go test -race -count=1 -tags root -skip 'TestProfileAgreesWithGo' ./...
	go test -count=1 -tags root -run 'TestProfileAgreesWithGo' ./bpf/cpuprofile
	go test -count=1 -tags external ./bpf/stacks ./bpf/symbols ./debug/junit
	TRACE_DEBUG_BPFTRACE=$(CURDIR)/scripts/bpftrace-sid TRACE_DEBUG_BPFTRACE_TOOLS=$$(scripts/images/bpftrace-root.sh)/usr/sbin \
	  go test -race -count=1 -tags root ./bpf/runner
	scripts/client-coverage.sh

# End-to-end tests need the local cluster (started if it is not running).
e2e-test: build
	scripts/test-e2e.sh

test: deps unit-test e2e-test

bench: build
	scripts/bench.sh

# Regenerate the eBPF objects (bpf2go, clang) and the syscall tables; the
# results are committed, so building needs no clang.
generate:
	go generate ./bpf/...

# Release archives and the krew manifest with their sha256.
krew:
	scripts/krew.sh

clean:
	rm -rf _output
