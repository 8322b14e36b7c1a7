package debug

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
	"github.com/trace-debug/kubectl-trace-debug/debug/kube"
	"github.com/trace-debug/kubectl-trace-debug/debug/pods"
)

// check is one row of `doctor`: ok, warn or fail, with details; a failing
// check carries the exit code the trace itself would end with.
type check struct {
	Name, Result, Detail string
	code                 int
}

// DoctorOptions are the inputs of `kubectl trace-debug doctor`.
type DoctorOptions struct {
	SubcommandOptions
	// Container is the target container (-c); empty picks the default.
	Container string
	// Image is the runner image the trace would use.
	Image string
}

// newCmdDoctor returns `kubectl trace-debug doctor`.
func newCmdDoctor(ref SubcommandOptions) *cobra.Command {
	o := &DoctorOptions{SubcommandOptions: ref}
	cmd := &cobra.Command{
		Use:   "doctor TARGET [-c CONTAINER]",
		Short: "Check, without changing anything, whether TARGET can be traced, and why not",
		Example: `  kubectl trace-debug doctor pod/web
  kubectl trace-debug doctor web -c server -n shop`,
		RunE: o.runE(false, func(ctx context.Context, args []string) error {
			if err := o.Complete(args, false); err != nil {
				return err
			}
			if o.PodName == "" {
				return codef(ExitUsage, "doctor needs a TARGET (pod/NAME or NAME)")
			}
			checks := o.doctor(ctx)
			printChecks(o.Out, checks)
			for _, c := range checks {
				if c.Result == "fail" {
					return codef(c.code, "doctor: %s check failed: %s", c.Name, c.Detail)
				}
			}
			return nil
		}),
	}
	cmd.Flags().StringVarP(&o.Container, "container", "c", "", "container to trace (default: the pod's default container, or its only one)")
	cmd.Flags().StringVar(&o.Image, "image", DefaultImage(), "runner image")
	return cmd
}

// doctor runs every check that a trace of the pod depends on.
func (o *DoctorOptions) doctor(ctx context.Context) []check {
	container, image := o.Container, o.Image
	var checks []check
	add := func(name string, err error, okDetail string) {
		if err != nil {
			checks = append(checks, check{name, "fail", explain(err).Error(), ExitCode(err)})
			return
		}
		checks = append(checks, check{Name: name, Result: "ok", Detail: okDetail})
	}

	missing, err := o.Clients.MissingAccess(ctx, kube.TraceAccess)
	switch {
	case err != nil:
		add("permissions", err, "")
	case len(missing) > 0:
		names := make([]string, len(missing))
		for i, a := range missing {
			names[i] = a.String()
		}
		add("permissions", codef(ExitForbidden, "missing: %s (see deploy/rbac.yaml)", strings.Join(names, ", ")), "")
	default:
		add("permissions", nil, fmt.Sprintf("all %d permissions in namespace %s", len(kube.TraceAccess), o.Clients.Namespace))
	}

	// The same checks a trace makes before injecting, with what they found.
	detail, err := o.Clients.PodSecurity(ctx)
	add("pod security", err, detail)

	pod, err := o.Clients.Pod(ctx, o.PodName)
	if err != nil {
		add("pod", err, "")
		return checks
	}
	name, err := pods.ChooseContainer(pod, container)
	if err == nil {
		_, err = pods.CheckPod(pod, name)
	}
	add("pod", err, fmt.Sprintf("%s is Running; container %s", pods.Ref(pod), name))
	if pods.SharesPIDNamespace(pod) {
		checks = append(checks, check{Name: "pid namespace", Result: "ok", Detail: "shared by the pod: the target is found by its container ID"})
	} else {
		checks = append(checks, check{Name: "pid namespace", Result: "ok", Detail: "per container: the target is PID 1 of the tracer's namespace"})
	}
	checks = append(checks, o.nodeChecks(ctx, pod.Spec.NodeName, image)...)
	return append(checks, o.tracerCheck(ctx, pod, image))
}

// tracerCheck names the bpftrace of the runner image as the runner reported
// it in the pod's latest bpftrace session with that image (its label
// io.github.kubectl-trace-debug.bpftrace-version says it too), and what an
// older one lacks.
func (o *DoctorOptions) tracerCheck(ctx context.Context, pod *corev1.Pod, image string) check {
	c := check{Name: "bpftrace", Result: "ok", Detail: "reported by the runner at the start of each trace (image label io.github.kubectl-trace-debug.bpftrace-version)"}
	sessions := pods.Sessions(pod)
	sort.SliceStable(sessions, func(i, j int) bool { return sessions[i].Started.After(sessions[j].Started) }) // newest first
	for _, s := range sessions {
		if s.Image != image || s.Program == "" {
			continue
		}
		line := o.runnerLine(ctx, s.Name, protocol.TracerVersionPrefix)
		if line == "" {
			continue
		}
		c.Detail = strings.TrimPrefix(line, protocol.RunnerPrefix) + ", as session " + s.Name + " reported"
		if strings.Contains(line, "(no ") || strings.Contains(line, ", no ") {
			c.Result = "warn"
			c.Detail += "; a runner image with bpftrace >= 0.24.2 has them all"
		}
		return c
	}
	return c
}

// runnerLine is the first line starting with prefix in the first KiB of a
// session's output, or "".
func (o *DoctorOptions) runnerLine(ctx context.Context, session, prefix string) string {
	rc, err := o.Clients.Logs(ctx, o.PodName, &corev1.PodLogOptions{Container: session, LimitBytes: ptr.To[int64](4096)})
	if err != nil {
		return ""
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, prefix) {
			return line
		}
	}
	return ""
}

// nodeChecks reads the node's OS, architecture, kernel, runtime and images.
func (o *DoctorOptions) nodeChecks(ctx context.Context, nodeName, image string) []check {
	node, err := o.Clients.Client.CoreV1().Nodes().Get(ctx, nodeName, metav1.GetOptions{})
	if err != nil {
		return []check{{Name: "node", Result: "warn", Detail: fmt.Sprintf("cannot read node %s: %v", nodeName, err)}}
	}
	info := node.Status.NodeInfo
	nodeCheck := check{Name: "node", Result: "ok", Detail: fmt.Sprintf("%s: %s/%s, kernel %s, %s", node.Name, info.OperatingSystem, info.Architecture, info.KernelVersion, info.ContainerRuntimeVersion)}
	if info.OperatingSystem != "linux" {
		nodeCheck.Result, nodeCheck.code = "fail", ExitUnsupportedPod
		nodeCheck.Detail += " (eBPF tracing is Linux-only)"
	}
	imageCheck := check{Name: "image", Result: "ok", Detail: image + " is on the node"}
	if !nodeHasImage(node, image) {
		imageCheck.Result, imageCheck.Detail = "warn", image+" is not on the node yet: it will be pulled from its registry"
	}
	return []check{nodeCheck, imageCheck}
}

// nodeHasImage reports whether the node holds image (by any of its names).
func nodeHasImage(node *corev1.Node, image string) bool {
	for _, img := range node.Status.Images {
		for _, n := range img.Names {
			if n == image || strings.TrimPrefix(n, "docker.io/") == image {
				return true
			}
		}
	}
	return false
}

// printChecks writes the checks as a table.
func printChecks(w io.Writer, checks []check) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tRESULT\tDETAIL")
	for _, c := range checks {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Name, c.Result, c.Detail)
	}
	_ = tw.Flush()
}
