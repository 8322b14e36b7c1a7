package debug

import (
	"context"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// kube is what every command takes from kubectl's standard flags.
type kube struct {
	Client     kubernetes.Interface
	RESTConfig *rest.Config
	Namespace  string
}

// newKube resolves the namespace and builds the clients.
func newKube(flags *genericclioptions.ConfigFlags) (kube, error) {
	ns, _, err := flags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return kube{}, codef(ExitUsage, "resolve namespace: %w (check --kubeconfig and --context)", err)
	}
	cfg, err := flags.ToRESTConfig()
	if err != nil {
		return kube{}, codef(ExitUsage, "load kubeconfig: %w (pass --kubeconfig or set KUBECONFIG)", err)
	}
	// A session over many pods starts them at once: each needs a handful of
	// requests, and client-go's default limit (5 a second) would start
	// them one after another.
	cfg.QPS, cfg.Burst = 50, 100
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return kube{}, codef(ExitUsage, "create client: %w", err)
	}
	return kube{Client: client, RESTConfig: cfg, Namespace: ns}, nil
}

// whoAmI returns the user name the API server knows the caller by, or ""
// when it cannot tell (an old server, or no permission to ask).
func (k kube) whoAmI(ctx context.Context) string {
	r, err := k.Client.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		return ""
	}
	return r.Status.UserInfo.Username
}
