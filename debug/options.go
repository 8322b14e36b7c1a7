package debug

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
)

// TraceOptions are the inputs of `kubectl trace-debug TARGET`.
type TraceOptions struct {
	genericiooptions.IOStreams
	// ConfigFlags are kubectl's standard connection flags.
	ConfigFlags *genericclioptions.ConfigFlags

	// Program is the bpftrace program (-e); ProgramFile reads it from a file (-f).
	Program     string
	ProgramFile string
	// Container is the target container (-c); empty picks the default.
	Container string
	// Image is the runner image.
	Image string
	// Duration stops the trace the Ctrl-C way after this long; 0 runs until Ctrl-C.
	Duration time.Duration
	// Deadline is the tracer's hard bound: it stops then whatever happens.
	Deadline time.Duration
	// StartTimeout bounds the wait for the tracer container to start.
	StartTimeout time.Duration

	// Filled by Complete.
	PodName    string
	Namespace  string
	Client     kubernetes.Interface
	RESTConfig *rest.Config
	// Interrupts delivers the user's Ctrl-C (SIGINT) and SIGTERM.
	Interrupts <-chan os.Signal
}

// NewTraceOptions returns options with their defaults.
func NewTraceOptions(streams genericiooptions.IOStreams) *TraceOptions {
	return &TraceOptions{
		IOStreams:    streams,
		ConfigFlags:  genericclioptions.NewConfigFlags(true),
		Image:        DefaultImage(),
		Deadline:     protocol.DefaultSession().Deadline,
		StartTimeout: 2 * time.Minute,
	}
}

// AddFlags binds the command's flags to o, each defaulting to its field.
func (o *TraceOptions) AddFlags(flags *pflag.FlagSet) {
	o.ConfigFlags.AddFlags(flags)
	flags.StringVarP(&o.Program, "expr", "e", o.Program, "bpftrace program to run")
	flags.StringVarP(&o.ProgramFile, "filename", "f", o.ProgramFile, "file holding the bpftrace program to run")
	flags.StringVarP(&o.Container, "container", "c", o.Container, "container to trace (default: the pod's default container, or its only one)")
	flags.StringVar(&o.Image, "image", o.Image, "runner image (bpftrace and the trace-debug runner)")
	flags.DurationVar(&o.Duration, "duration", o.Duration, "stop the trace after this long and print its maps, as Ctrl-C does (0: until Ctrl-C)")
	flags.DurationVar(&o.Deadline, "deadline", o.Deadline, "hard bound of the tracer's life in the pod, whatever happens to the client")
	flags.DurationVar(&o.StartTimeout, "start-timeout", o.StartTimeout, "how long to wait for the tracer container to start")
}

// Complete reads the program file, resolves the namespace and builds the clients.
func (o *TraceOptions) Complete(args []string) error {
	if len(args) != 1 {
		return codef(ExitUsage, "need exactly one TARGET (pod/NAME or NAME), got %d arguments; see --help", len(args))
	}
	name, err := ParseTarget(args[0])
	if err != nil {
		return err
	}
	o.PodName = name
	if o.ProgramFile != "" {
		if o.Program != "" {
			return codef(ExitUsage, "give the program with -e or -f, not both")
		}
		b, err := os.ReadFile(o.ProgramFile)
		if err != nil {
			return codef(ExitUsage, "read program file: %w", err)
		}
		o.Program = string(b)
	}
	o.Namespace, _, err = o.ConfigFlags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return codef(ExitUsage, "resolve namespace: %w (check --kubeconfig and --context)", err)
	}
	o.RESTConfig, err = o.ConfigFlags.ToRESTConfig()
	if err != nil {
		return codef(ExitUsage, "load kubeconfig: %w (pass --kubeconfig or set KUBECONFIG)", err)
	}
	o.Client, err = kubernetes.NewForConfig(o.RESTConfig)
	if err != nil {
		return fmt.Errorf("create client: %w", err)
	}
	return nil
}

// Validate checks the options without any I/O.
func (o *TraceOptions) Validate() error {
	switch {
	case o.Program == "":
		return codef(ExitUsage, "no program: give a bpftrace program with -e 'PROGRAM' or -f FILE")
	case o.Image == "":
		return codef(ExitUsage, "--image must not be empty")
	case o.Duration < 0:
		return codef(ExitUsage, "--duration must not be negative")
	case o.Deadline <= 0:
		return codef(ExitUsage, "--deadline must be positive: an ephemeral container cannot be deleted, so every tracer needs a bound")
	case o.Duration > o.Deadline:
		return codef(ExitUsage, "--duration (%v) is longer than --deadline (%v); raise --deadline too", o.Duration, o.Deadline)
	case o.StartTimeout <= 0:
		return codef(ExitUsage, "--start-timeout must be positive")
	}
	return nil
}

// session is the runner's view of these options.
func (o *TraceOptions) session(containerID string, sharedPID bool) protocol.Session {
	s := protocol.DefaultSession()
	s.Program = o.Program
	s.ContainerID = containerID
	s.SharedPID = sharedPID
	s.Attached = true
	s.Duration = o.Duration
	s.Deadline = o.Deadline
	return s
}

// Run injects the tracer into the pod, streams its output and returns its
// exit code as an *ExitError (nil when the tracer exited 0).
func (o *TraceOptions) Run(ctx context.Context) error {
	s, err := o.start(ctx)
	if err != nil {
		return err
	}
	return s.follow(ctx)
}
