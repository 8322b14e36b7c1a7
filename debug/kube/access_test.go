package kube_test

import (
	"context"
	"strings"
	"testing"

	"k8s.io/client-go/kubernetes/fake"

	"github.com/trace-debug/kubectl-trace-debug/debug/exit"
	"github.com/trace-debug/kubectl-trace-debug/debug/kube"
	"github.com/trace-debug/kubectl-trace-debug/debug/kube/kubetest"
)

// The permission check asks once per permission, at once, and names what
// is missing with a Role that would grant it.
func TestPreflightAccess(t *testing.T) {
	c := fake.NewClientset()
	c.PrependReactor("create", "selfsubjectaccessreviews", kubetest.Allow("patch pods/ephemeralcontainers", "create pods/attach"))
	k := kube.Clients{Client: c, Namespace: "shop"}
	err := k.CheckAccess(context.Background(), kube.TraceAccess)
	if exit.Code(err) != exit.Forbidden {
		t.Fatalf("checkAccess = %v, want exit %d", err, exit.Forbidden)
	}
	for _, want := range []string{"patch pods/ephemeralcontainers, create pods/attach", "namespace shop", "kind: Role"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal lacks %q:\n%v", want, err)
		}
	}
	reviews := 0
	for _, a := range c.Actions() {
		if a.GetResource().Resource == "selfsubjectaccessreviews" {
			reviews++
		}
	}
	if reviews != len(kube.TraceAccess) {
		t.Errorf("%d reviews sent, want one per permission (%d)", reviews, len(kube.TraceAccess))
	}

	ok := fake.NewClientset()
	ok.PrependReactor("create", "selfsubjectaccessreviews", kubetest.Allow())
	if err := (kube.Clients{Client: ok, Namespace: "shop"}).CheckAccess(context.Background(), kube.TraceAccess); err != nil {
		t.Fatalf("all allowed: %v", err)
	}
}
