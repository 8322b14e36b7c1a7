//go:build tools

// Package k8s pins the Kubernetes binaries that the local test cluster runs.
// It is a separate module so that the plugin's own go.mod stays small;
// scripts/cluster/build.sh builds these commands and caches them by version.
package k8s

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
