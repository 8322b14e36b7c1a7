package debug

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/yaml"

	"github.com/trace-debug/kubectl-trace-debug/debug/kube"
	"github.com/trace-debug/kubectl-trace-debug/debug/pods"
)

// ListOptions are the inputs of `kubectl trace-debug list`.
type ListOptions struct {
	SubcommandOptions
	// AllNamespaces lists the sessions of every namespace.
	AllNamespaces bool
	// Output is the format: "" (a table), wide, json or yaml.
	Output string
}

// newCmdList returns `kubectl trace-debug list`.
func newCmdList(ref SubcommandOptions) *cobra.Command {
	o := &ListOptions{SubcommandOptions: ref}
	cmd := &cobra.Command{
		Use:   "list [TARGET] [-A] [-o json|yaml|wide]",
		Short: "List trace sessions, running and finished, read from the pods themselves",
		Example: `  kubectl trace-debug list
  kubectl trace-debug list pod/web -o wide
  kubectl trace-debug list -A -o json`,
		RunE: o.runE(false, func(ctx context.Context, args []string) error {
			if err := o.Complete(args, false); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(ctx)
		}),
	}
	cmd.Flags().BoolVarP(&o.AllNamespaces, "all-namespaces", "A", false, "list sessions in every namespace")
	o.addSelector(cmd)
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "output format: (table), wide, json or yaml")
	return cmd
}

// Validate checks the output format before anything is read.
func (o *ListOptions) Validate() error {
	switch o.Output {
	case "", "wide", "json", "yaml":
		return nil
	}
	return codef(ExitUsage, "--output must be wide, json or yaml (or omitted for a table), not %q", o.Output)
}

// Run lists the sessions of the target pod, the namespace or every namespace.
func (o *ListOptions) Run(ctx context.Context) error {
	var found []corev1.Pod
	switch {
	case o.group():
		targets, err := o.targets(ctx)
		if err != nil {
			return err
		}
		found = targets.Running
	case o.PodName != "":
		p, err := o.Clients.Pod(ctx, o.PodName)
		if err != nil {
			return err
		}
		found = []corev1.Pod{*p}
	default:
		ns := o.Clients.Namespace
		if o.AllNamespaces {
			ns = metav1.NamespaceAll
		}
		l, err := o.Clients.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return kube.APIError(err, "list pods", "")
		}
		found = l.Items
	}
	var sessions []pods.SessionInfo
	for i := range found {
		sessions = append(sessions, pods.Sessions(&found[i])...)
	}
	// Oldest first, as `kubectl get` lists by creation; pending ones last.
	sort.SliceStable(sessions, func(i, j int) bool {
		a, b := sessions[i].Started, sessions[j].Started
		if a.IsZero() != b.IsZero() {
			return b.IsZero()
		}
		return a.Before(b)
	})
	return printSessions(o.Out, sessions, o.Output, o.AllNamespaces, time.Now())
}

// printSessions writes sessions as a table (wide with more columns), JSON or YAML.
func printSessions(w io.Writer, sessions []pods.SessionInfo, format string, withNamespace bool, now time.Time) error {
	if sessions == nil {
		sessions = []pods.SessionInfo{}
	}
	switch format {
	case "json":
		b, err := json.MarshalIndent(sessions, "", "  ")
		if err != nil {
			return fmt.Errorf("encode sessions: %w", err)
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	case "yaml":
		b, err := yaml.Marshal(sessions)
		if err != nil {
			return fmt.Errorf("encode sessions: %w", err)
		}
		_, err = w.Write(b)
		return err
	case "", "wide":
	default:
		return codef(ExitUsage, "--output must be wide, json or yaml, not %q", format)
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	cols := []string{"POD", "SESSION", "CONTAINER", "STATE", "EXIT", "AGE", "PROGRAM"}
	if withNamespace {
		cols = append([]string{"NAMESPACE"}, cols...)
	}
	if format == "wide" {
		cols = append(cols, "MODE", "DEADLINE", "USER")
	}
	fmt.Fprintln(tw, strings.Join(cols, "\t"))
	for _, s := range sessions {
		exit, age, mode := "", "", "attached"
		if s.ExitCode != nil {
			exit = fmt.Sprint(*s.ExitCode)
		}
		if !s.Started.IsZero() {
			age = duration.HumanDuration(now.Sub(s.Started))
		}
		if s.Detached {
			mode = "detached"
		}
		row := []string{s.Pod, s.Name, s.Target, s.State, exit, age, truncate(printable(programLine(s)), 50)}
		if withNamespace {
			row = append([]string{s.Namespace}, row...)
		}
		if format == "wide" {
			row = append(row, mode, s.Deadline.Duration.String(), printable(s.User))
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	return tw.Flush()
}

// programLine is what a session runs, in one line for the table: the
// flags that chose its native engine (as its report says them), or its
// program's first non-empty line.
func programLine(s pods.SessionInfo) string {
	if s.Native() {
		return whatRan(s.Session, s.Program)
	}
	for _, l := range strings.Split(s.Program, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return l
		}
	}
	return ""
}
