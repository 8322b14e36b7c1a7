// Package e2e holds the end-to-end tests of kubectl trace-debug. They run the
// built plugin against the project's real local cluster (apiserver, kubelet,
// containerd) and real eBPF, with the build tag e2e:
//
//	TRACE_DEBUG_KUBECONFIG=... TRACE_DEBUG_BIN=... go test -tags e2e ./test/e2e
//
// scripts/test-e2e.sh (make e2e-test) starts the cluster and sets both.
package e2e
