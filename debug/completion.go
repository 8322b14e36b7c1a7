package debug

import (
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/trace-debug/kubectl-trace-debug/debug/pods"
)

// registerCompletions completes TARGET with the namespace's running pods and
// -c with the target pod's containers. kubectl runs the executable
// kubectl_complete-trace_debug, which calls `kubectl-trace_debug __complete`.
func registerCompletions(cmd *cobra.Command, o *TraceOptions) {
	cmd.ValidArgsFunction = func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		client, ns, ok := completionClient(o)
		if !ok {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		pods, err := client.CoreV1().Pods(ns).List(cmd.Context(), metav1.ListOptions{FieldSelector: "status.phase=Running"})
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		prefix := ""
		if strings.HasPrefix(toComplete, "pod/") {
			prefix = "pod/"
		}
		var names []string
		for _, p := range pods.Items {
			if strings.HasPrefix(prefix+p.Name, toComplete) {
				names = append(names, prefix+p.Name)
			}
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
	_ = cmd.RegisterFlagCompletionFunc("container", func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		if len(args) == 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		name, err := pods.ParseTarget(args[0])
		client, ns, ok := completionClient(o)
		if err != nil || !ok {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		pod, err := client.CoreV1().Pods(ns).Get(cmd.Context(), name, metav1.GetOptions{})
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var names []string
		for _, c := range pod.Spec.Containers {
			names = append(names, c.Name)
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	})
	_ = cmd.RegisterFlagCompletionFunc("filename", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{"bt"}, cobra.ShellCompDirectiveFilterFileExt
	})
}

// completionClient builds a client from the kube flags given so far.
func completionClient(o *TraceOptions) (kubernetes.Interface, string, bool) {
	c, err := newClients(o.ConfigFlags)
	return c.Client, c.Namespace, err == nil
}
