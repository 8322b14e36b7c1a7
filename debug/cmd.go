package debug

import (
	"flag"
	"sync"

	"github.com/go-logr/logr"
	"github.com/spf13/pflag"
	"k8s.io/klog/v2"

	"os"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/trace-debug/kubectl-trace-debug/debug/exit"
)

var (
	traceLong = templates.LongDesc(`
		Trace one running pod with eBPF, in one command.

		kubectl trace-debug injects a privileged ephemeral container into the pod,
		in the target container's process namespace, and runs a bpftrace program
		there. In the program, $container_pid is the target container's main
		process, so /proc/$container_pid/root/... is the target's filesystem.
		Output streams back; Ctrl-C (or --duration) stops the trace and prints its
		maps. The tracer never outlives the session: it stops when the client goes
		away and at --deadline at the latest.`)

	traceExample = templates.Examples(`
		# Count the syscalls of one pod's processes by name
		kubectl trace-debug pod/web -e 'tracepoint:raw_syscalls:sys_enter /comm == "server"/ { @[comm] = count(); }'

		# Show what a process writes, for ten seconds
		kubectl trace-debug web -c server --duration 10s -e 'tracepoint:syscalls:sys_enter_write /comm == "server"/ { printf("%s\n", str(args->buf)); }'

		# Count calls of a Go function in the target's own binary
		kubectl trace-debug pod/web -e 'uprobe:/proc/$container_pid/root/app/server:"main.counterValue" { @calls = count(); }'

		# A Deployment's pods, or the pods a label selector matches: one session, a tracer in each
		kubectl trace-debug deploy/web -e 'uprobe:/proc/$container_pid/root/app/server:"main.counterValue" { @calls = count(); }'
		kubectl trace-debug -l app=web -n shop --syscalls --duration 10s

		# Run a program from a file against the "shell" container
		kubectl trace-debug pod/web -c shell -f bashreadline.bt

		# Count the container's syscalls by name and thread, natively, for 30 s
		kubectl trace-debug pod/web --syscalls --duration 30s

		# Each call of a Go function with its results and duration (Go-safe: no uretprobe)
		kubectl trace-debug pod/web --func main.counterValue

		# A stripped binary has no types: declare the results, so a failed call (a non-nil error) counts in @errors
		kubectl trace-debug pod/web --func 'main.lookup=int,error'

		# Where the CPU goes: 30 s of on-CPU stacks, as a table, a flame graph, a pprof file
		kubectl trace-debug pod/web --cpu
		kubectl trace-debug deploy/web --cpu --duration 10s -o svg --output-file cpu.svg
		kubectl trace-debug pod/web --cpu -o pprof --output-file cpu.pprof

		# Where a Go pod's time goes, waiting included: every goroutine's state and stack, 10 times a second
		kubectl trace-debug pod/web --wall --duration 10s -o svg --output-file wall.svg

		# Every goroutine of a Go pod, read from outside (no pprof endpoint needed), and a leak check
		kubectl trace-debug pod/web --goroutines
		kubectl trace-debug deploy/web --goroutines --assert '@goroutines["main.worker"] < 100'

		# In CI: fail (exit 14) unless the trace saw what it should, with a JUnit report
		kubectl trace-debug deploy/web --duration 60s --func main.handle --junit trace.xml \
		  --assert '@errors["main.handle"] == 0' --assert '@latency_us["main.handle"].p99 < 500'`)
)

// addVerbosity gives the command kubectl's -v=N: client-go's own logs, its
// API requests from 6 on. At 0 they stay quiet (client-go reports cancelled
// watches and closed streams that the command explains itself).
func addVerbosity(cmd *cobra.Command) {
	goflags := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(goflags)
	v := pflag.PFlagFromGoFlag(goflags.Lookup("v"))
	v.Shorthand = "v"
	v.Usage = "log level: 6 shows the API requests, 8 their bodies (as kubectl's -v)"
	cmd.PersistentFlags().AddFlag(v)
	cmd.PersistentPreRun = func(*cobra.Command, []string) {
		if v.Value.String() == "0" {
			quietKlog.Do(func() { klog.SetLogger(logr.Discard()) })
		}
	}
}

// quietKlog sets klog's logger (a global) once: a process runs one
// command, and the tests run many, whose earlier ones may still be
// logging from a goroutine (a stop being sent) while the next one starts.
var quietKlog sync.Once

// NewCmdTraceDebug returns the `kubectl trace-debug` command. interrupts
// delivers the user's Ctrl-C (SIGINT) and SIGTERM.
func NewCmdTraceDebug(streams genericiooptions.IOStreams, interrupts <-chan os.Signal) *cobra.Command {
	o := NewTraceOptions(streams)
	o.Interrupts = interrupts
	cmd := &cobra.Command{
		Use:         "trace-debug (TARGET | -l SELECTOR) (-e PROGRAM | -f FILE | --syscalls | --func F | --cpu | --wall | --goroutines) [-c CONTAINER] [--duration D]",
		Annotations: map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl trace-debug"},
		Short:       "Trace or profile a running pod with eBPF through an ephemeral container",
		Long:        traceLong,
		Example:     traceExample,
		Version:     Version(),
		// TARGET is positional: any word that is not a subcommand is a target.
		Args:          cobra.ArbitraryArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.hzGiven = cmd.Flags().Changed("hz")
			if err := o.Complete(args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return exit.With(ExitUsage, err) })
	o.ConfigFlags.AddFlags(cmd.PersistentFlags())
	addVerbosity(cmd)
	o.AddFlags(cmd.Flags())
	registerCompletions(cmd, o)
	s := SubcommandOptions{IOStreams: streams, ConfigFlags: o.ConfigFlags, Interrupts: interrupts}
	cmd.AddCommand(newCmdList(s), newCmdLogs(s), newCmdStop(s), newCmdAttach(s), newCmdDoctor(s))
	explainErrors(cmd)
	return cmd
}

// explainErrors makes every command's error carry the words for its fix
// (see explain): the one place errors from below get this layer's names.
func explainErrors(root *cobra.Command) {
	for _, c := range append(root.Commands(), root) {
		if run := c.RunE; run != nil {
			c.RunE = func(cmd *cobra.Command, args []string) error { return explain(run(cmd, args)) }
		}
	}
}
