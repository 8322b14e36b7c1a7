package kube

import (
	"context"
	"fmt"
	"io"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/resource"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/remotecommand"

	"github.com/trace-debug/kubectl-trace-debug/debug/exit"
)

// Getter is what the clients are made from; kubectl's connection flags
// are one.
type Getter interface {
	resource.RESTClientGetter
	ToRawKubeConfigLoader() clientcmd.ClientConfig
}

// Clients is what every command takes from kubectl's connection settings.
type Clients struct {
	Client     kubernetes.Interface
	RESTConfig *rest.Config
	// Namespace is the namespace the clients act in.
	Namespace string
	// Getter resolves workloads by kubectl's names; nil resolves only
	// label selectors.
	Getter resource.RESTClientGetter
	// Attach streams a container's stdin, stdout and stderr as opts says;
	// nil is kubectl's transport (WebSocket, falling back to SPDY).
	Attach func(ctx context.Context, c Clients, pod string, opts *corev1.PodAttachOptions, streams remotecommand.StreamOptions) error
	// LogStream opens a container's log; nil is the API server's.
	LogStream func(ctx context.Context, c Clients, pod string, opts *corev1.PodLogOptions) (io.ReadCloser, error)
}

// New resolves the namespace and builds the clients.
func New(g Getter) (Clients, error) {
	ns, _, err := g.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return Clients{}, exit.Fixf(exit.Usage, exit.Fix{Setting: exit.Credentials}, "resolve namespace: %w", err)
	}
	cfg, err := g.ToRESTConfig()
	if err != nil {
		return Clients{}, exit.Fixf(exit.Usage, exit.Fix{Setting: exit.Credentials}, "load kubeconfig: %w", err)
	}
	// A session over many pods starts them at once: each needs a handful of
	// requests, and client-go's default limit (5 a second) would start
	// them one after another.
	cfg.QPS, cfg.Burst = 50, 100
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return Clients{}, exit.Codef(exit.Usage, "create client: %w", err)
	}
	return Clients{Client: client, RESTConfig: cfg, Namespace: ns, Getter: g}, nil
}

// In returns the clients acting in namespace ns.
func (c Clients) In(ns string) Clients {
	c.Namespace = ns
	return c
}

// WhoAmI returns the user name the API server knows the caller by, or ""
// when it cannot tell (an old server, or no permission to ask).
func (c Clients) WhoAmI(ctx context.Context) string {
	r, err := c.Client.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		return ""
	}
	return r.Status.UserInfo.Username
}

// Pod reads a pod of the namespace.
func (c Clients) Pod(ctx context.Context, name string) (*corev1.Pod, error) {
	pod, err := c.Client.CoreV1().Pods(c.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, APIError(err, fmt.Sprintf("get pod %s/%s", c.Namespace, name), fmt.Sprintf("list the pods with `kubectl get pods -n %s`", c.Namespace))
	}
	return pod, nil
}
