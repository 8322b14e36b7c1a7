package debug

import (
	"os"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/trace-debug/kubectl-trace-debug/bpf/mapmerge"
	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
	"github.com/trace-debug/kubectl-trace-debug/debug/kube"
	"github.com/trace-debug/kubectl-trace-debug/debug/pods"
	"github.com/trace-debug/kubectl-trace-debug/debug/session"
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
	// OutputFormat is "text" (bpftrace's own) or "json" (one object per line).
	OutputFormat string
	// OutputFile receives the tracer's output instead of stdout.
	OutputFile string
	// ReadyFile is written with the session's name once the probes are attached.
	ReadyFile string
	// Detach returns once the probes are attached, leaving the trace running
	// until its --duration or --deadline, or `stop`.
	Detach bool
	// DryRun prints the patch that would add the tracer, and sends nothing.
	DryRun bool
	// UnsafeUretprobe lets uretprobes on Go executables through unchanged
	// (they crash Go programs); by default they are rewritten Go-safely.
	UnsafeUretprobe bool
	// NodeWide lets the program's probes fire for every process on the node
	// instead of only the pod's.
	NodeWide bool
	// IgnoreMemoryLimit starts bpftrace even when it may not fit under the
	// pod's memory limit.
	IgnoreMemoryLimit bool
	// Syscalls runs the native syscall census instead of a bpftrace program.
	Syscalls bool
	// Funcs are Go functions for the native, Go-safe function tracer.
	Funcs []string
	// CPU profiles the target's on-CPU stacks (the native sampler) at Hz
	// samples a second on each CPU, for Duration (30 s unless given).
	CPU bool
	Hz  int
	// Goroutines reads the goroutines of the target's Go processes once,
	// from outside (the goroutine dump).
	Goroutines bool
	// Wall samples every goroutine's state and stack at Hz readings a
	// second (10 unless given) for Duration (30 s unless given): the
	// wall-clock profile.
	Wall bool
	// Heap reads the memory profile of the target's Go processes once;
	// Alloc reads it at the start and the end of --duration: what was
	// allocated between.
	Heap, Alloc bool
	// hzGiven says --hz was given (each profile has its own default).
	hzGiven bool

	// Selector (-l) traces the pods it matches instead of TARGET;
	// AllNamespaces (-A) looks for them in every namespace.
	Selector      string
	AllNamespaces bool
	// MaxPods refuses a workload or selector that matches more running pods.
	MaxPods int
	// PerPod prints each pod's final maps instead of merging them.
	PerPod bool
	// Checks are the --assert expressions on the final maps and the
	// --junit report.
	Checks Checks

	// Filled by Complete: the pod, or the workload (TYPE/NAME) whose pods
	// are resolved in Run, and the clients.
	PodName  string
	Workload string
	Clients  kube.Clients
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
		OutputFormat: "text",
		MaxPods:      defaultMaxPods,
		Hz:           99,
	}
}

// AddFlags binds the command's flags to o, each defaulting to its field.
// kubectl's standard flags are bound by the root command, for all commands.
func (o *TraceOptions) AddFlags(flags *pflag.FlagSet) {
	flags.StringVarP(&o.Program, "expr", "e", o.Program, "bpftrace program to run")
	flags.StringVarP(&o.ProgramFile, "filename", "f", o.ProgramFile, "file holding the bpftrace program to run")
	flags.StringVarP(&o.Container, "container", "c", o.Container, "container to trace (default: the pod's default container, or its only one)")
	flags.StringVar(&o.Image, "image", o.Image, "runner image (bpftrace and the trace-debug runner; with --syscalls or --func, default: the -native image without bpftrace)")
	flags.DurationVar(&o.Duration, "duration", o.Duration, "stop the trace after this long and print its maps, as Ctrl-C does (0: until Ctrl-C)")
	flags.DurationVar(&o.Deadline, "deadline", o.Deadline, "hard bound of the tracer's life in the pod, whatever happens to the client")
	flags.DurationVar(&o.StartTimeout, "start-timeout", o.StartTimeout, "how long to wait for the tracer container to start")
	flags.StringVarP(&o.OutputFormat, "output", "o", o.OutputFormat, "tracer output format: text or json (one JSON object per line); with --cpu: top (the default), svg (a flame graph), pprof, folded or json")
	flags.StringVar(&o.OutputFile, "output-file", o.OutputFile, "write the tracer's output (or the profile) to this file instead of stdout")
	flags.StringVar(&o.ReadyFile, "ready-file", o.ReadyFile, "write the session's name to this file once the probes are attached (for scripts)")
	flags.BoolVar(&o.Detach, "detach", o.Detach, "return once the probes are attached; the trace runs until --duration, --deadline or `stop`")
	flags.BoolVar(&o.DryRun, "dry-run", o.DryRun, "print the patch that would add the tracer container, and change nothing")
	flags.BoolVar(&o.Syscalls, "syscalls", o.Syscalls, "count the target's syscalls by name and thread with the native engine (no bpftrace; attaches in milliseconds)")
	flags.BoolVar(&o.CPU, "cpu", o.CPU, "profile the target's CPU: sample the on-CPU stacks of its processes (user and kernel, Go-aware) and show where the time goes (-o top, svg, pprof, folded or json; --duration, default 30s)")
	flags.IntVar(&o.Hz, "hz", o.Hz, "with --cpu: samples a second on each CPU (1 to 1000); with --wall: readings of the goroutines a second (default 10)")
	flags.BoolVar(&o.Wall, "wall", o.Wall, "profile where a pod's time goes, waiting included: read every goroutine's state and stack --hz times a second (from outside, as --goroutines), follow the other processes' threads on and off the CPU (sched_switch), and show them as --cpu does, each stack topped by its state ([chan receive], [sync.Mutex.Lock], [sleeping], [running]...)")
	flags.BoolVar(&o.Heap, "heap", o.Heap, "show the memory a Go pod's processes hold, by the stack that allocated it: the runtime's own memory profile, read from outside (stripped binaries too, Go 1.21+), as of the last garbage collection, scaled as /debug/pprof/heap is (outputs as --cpu's, pprof with Go's four sample types; @inuse_bytes[\"main.cache\"] for --assert)")
	flags.BoolVar(&o.Alloc, "alloc", o.Alloc, "show what a Go pod's processes allocated during --duration (30s by default), by stack: the memory profile read at the start and the end, the difference (outputs as --heap's; @alloc_bytes for --assert)")
	flags.BoolVar(&o.Goroutines, "goroutines", o.Goroutines, "dump the goroutines of the target's Go processes, read from outside (stripped binaries too, Go 1.21+): grouped by state and stack, largest first, each with how long it has waited (-o text, json or pprof; @goroutines[\"main.worker\"] and @states[\"chan receive\"] for --assert)")
	flags.StringArrayVar(&o.Funcs, "func", o.Funcs, "trace calls of this Go function of the target's executable, with results and durations, Go-safe (repeatable; patterns like main.* allowed). "+
		"@errors counts the calls whose last result is a non-nil error; a stripped binary has no types, so declare them: --func 'main.handle=int,error'")
	flags.BoolVar(&o.UnsafeUretprobe, "unsafe-uretprobe", o.UnsafeUretprobe, "run uretprobes on Go executables as written (they crash Go programs: Go moves its stacks); by default they become uprobes at each RET")
	flags.BoolVar(&o.NodeWide, "node-wide", o.NodeWide, "let the program's probes fire for every process on the node, not only the pod's (uprobes on a shared image, tracepoints, kprobes)")
	flags.StringVarP(&o.Selector, "selector", "l", o.Selector, "trace the pods this label selector matches (instead of TARGET)")
	flags.BoolVarP(&o.AllNamespaces, "all-namespaces", "A", o.AllNamespaces, "with -l: look for the pods in every namespace")
	flags.BoolVar(&o.PerPod, "per-pod", o.PerPod, "with several pods: print each pod's maps at the end instead of merging them")
	flags.IntVar(&o.MaxPods, "max-pods", o.MaxPods, "refuse a workload or selector that matches more running pods than this (each gets a privileged tracer)")
	flags.StringArrayVar(&o.Checks.Exprs, "assert", o.Checks.Exprs, "fail with exit code 14, after printing the maps, unless this CEL expression holds on the final maps (merged over a workload's pods), e.g. '@errors == 0', '@calls[\"main.handle\"] >= 3', '@lat.p99 < 500', 'size(@conns) == 0' (repeatable)")
	flags.StringVar(&o.Checks.JUnit, "junit", o.Checks.JUnit, "write a JUnit XML report to this file at the end: the trace and each --assert as test cases, with the pods, session and durations")
	flags.BoolVar(&o.IgnoreMemoryLimit, "ignore-memory-limit", o.IgnoreMemoryLimit, "start bpftrace even if its peak memory (about 190 MiB) may not fit under the pod's memory limit")
}

// Complete reads the program file, resolves the namespace and builds the clients.
func (o *TraceOptions) Complete(args []string) error {
	switch {
	case o.Selector != "" && len(args) > 0:
		return codef(ExitUsage, "give TARGET or -l SELECTOR, not both")
	case o.Selector == "" && len(args) != 1:
		return codef(ExitUsage, "need exactly one TARGET (pod/NAME, NAME, or TYPE/NAME such as deploy/web) or -l SELECTOR, got %d arguments; see --help", len(args))
	case o.Selector == "" && !pods.IsPodTarget(args[0]):
		o.Workload = args[0]
	case o.Selector == "":
		name, err := pods.ParseTarget(args[0])
		if err != nil {
			return err
		}
		o.PodName = name
	}
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
	if (o.CPU || o.Wall || o.Alloc) && o.Duration == 0 {
		o.Duration = defaultCPUDuration
	}
	if o.Wall && !o.hzGiven {
		o.Hz = defaultWallHz
	}
	if o.Image == DefaultImage() && o.session(o.Program).Native() {
		o.Image = NativeImage() // the native engines need no bpftrace
	}
	var err error
	o.Clients, err = newClients(o.ConfigFlags)
	return err
}

// defaultMaxPods is how many pods a workload or a selector may resolve to
// before the trace is refused (--max-pods): every pod gets a privileged
// tracer.
const defaultMaxPods = 20

// newClients builds the clients from kubectl's flags; tests replace it.
var newClients = func(flags *genericclioptions.ConfigFlags) (kube.Clients, error) { return kube.New(flags) }

// Validate checks the options without any I/O.
func (o *TraceOptions) Validate() error {
	switch {
	case (o.CPU || o.Wall) && (o.Hz < 1 || o.Hz > protocol.MaxCPUHz):
		return codef(ExitUsage, "--hz must be 1 to %d, not %d: more samples cost the target more than they tell", protocol.MaxCPUHz, o.Hz)
	case o.session(o.Program).Engines() == 0:
		return codef(ExitUsage, "no program: give a bpftrace program with -e 'PROGRAM' or -f FILE, or use --syscalls, --func FUNCTION, --cpu, --wall, --goroutines, --heap or --alloc")
	case o.session(o.Program).Engines() > 1:
		return codef(ExitUsage, "give one of -e/-f (a bpftrace program), --syscalls (the native census), --func (the Go function tracer), --cpu (the CPU profile), --wall (the wall-clock profile), --goroutines (the goroutine dump) and --heap or --alloc (the memory profile)")
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
	case o.AllNamespaces && o.Selector == "":
		return codef(ExitUsage, "-A (all namespaces) goes with -l SELECTOR")
	case o.MaxPods < 1:
		return codef(ExitUsage, "--max-pods must be at least 1")
	case o.Detach && o.OutputFile != "":
		return codef(ExitUsage, "--output-file needs an attached session: a detached one keeps its output in the pod; read it with `kubectl trace-debug logs`")
	case o.Goroutines && o.Detach:
		return codef(ExitUsage, "--goroutines reads the goroutines once and ends: there is nothing to detach; drop --detach")
	case o.Heap && o.Alloc:
		return codef(ExitUsage, "give --heap (what is in use now) or --alloc (what is allocated during --duration), not both: --alloc's profile holds the in-use bytes too (-o pprof, inuse_space)")
	case (o.Heap || o.Alloc) && o.Detach:
		return codef(ExitUsage, "--heap and --alloc need an attached session: the client names and writes the profile as it ends; bound --alloc with --duration instead of --detach")
	case o.Heap || o.Alloc:
		if !slices.Contains(profileFormats, o.profileFormat()) {
			return codef(ExitUsage, "with --heap or --alloc, --output must be one of %s, not %q", strings.Join(profileFormats, ", "), o.OutputFormat)
		}
	case o.Goroutines && o.OutputFormat != "text" && o.OutputFormat != "json" && o.OutputFormat != "pprof":
		return codef(ExitUsage, "with --goroutines, --output must be text, json or pprof, not %q", o.OutputFormat)
	case (o.CPU || o.Wall) && o.Checks.active():
		return codef(ExitUsage, "--assert and --junit check the maps a trace prints at its end; --cpu prints a profile instead: drop them, or trace with -e, --func or --syscalls")
	case o.Detach && o.Checks.JUnit != "":
		return codef(ExitUsage, "--junit needs the trace's end, and a detached trace ends later: give --junit to `kubectl trace-debug stop` (the session keeps its --assert expressions for it)")
	case o.CPU || o.Wall:
		if err := o.validateCPU(); err != nil {
			return err
		}
	case !o.Goroutines && o.OutputFormat != "text" && o.OutputFormat != "json":
		return codef(ExitUsage, "--output must be text or json, not %q", o.OutputFormat)
	}
	if err := validProgram(o.Program); err != nil {
		return err
	}
	for _, f := range o.Funcs {
		if _, _, err := protocol.SplitFunc(f); err != nil {
			return codef(ExitUsage, "%w", err)
		}
	}
	o.Checks.engine = o.session(o.Program).Engine()
	if err := o.Checks.compile(declaredMaps(o.Program, o.Checks.engine)); err != nil {
		return err
	}
	return o.Checks.funcKeys(o.Funcs)
}

// validProgram refuses, before anything is sent, a program the runner could
// not take: over protocol.MaxProgram, with NUL bytes, or not UTF-8.
func validProgram(p string) error {
	switch {
	case len(p) > protocol.MaxProgram:
		return codef(ExitUsage, "the program is %d bytes; the limit is %d (1 MiB): split it, or trace less at once", len(p), protocol.MaxProgram)
	case strings.IndexByte(p, 0) >= 0:
		return codef(ExitUsage, "the program has a NUL byte at offset %d: bpftrace programs are text; check the -f file (is it a binary?)", strings.IndexByte(p, 0))
	case !utf8.ValidString(p):
		return codef(ExitUsage, "the program is not valid UTF-8: save the -f file as UTF-8 text")
	}
	return nil
}

// session is what the runner is told of these options, with program as
// the program; one too large for the container's args travels on its
// stdin (protocol.MaxArgsProgram) and the args carry its size and hash.
func (o *TraceOptions) session(program string) protocol.Session {
	s := protocol.DefaultSession()
	s.Program = program
	if len(program) > protocol.MaxArgsProgram {
		s.Program = ""
		s.ProgramSize, s.ProgramSHA256, s.ProgramHead = protocol.ProgramOnStdin(program)
	}
	s.Attached = !o.Detach
	s.JSON = o.OutputFormat == "json" && !o.CPU && !o.Goroutines && !o.Wall && !o.Heap && !o.Alloc
	s.Goroutines = o.Goroutines
	s.Heap, s.Alloc = o.Heap, o.Alloc
	if o.Wall {
		s.WallHz = o.Hz
	}
	if o.CPU {
		s.CPUHz = o.Hz
	}
	s.UnsafeUretprobe = o.UnsafeUretprobe
	s.NodeWide = o.NodeWide
	s.IgnoreMemoryLimit = o.IgnoreMemoryLimit
	s.Syscalls = o.Syscalls
	s.Funcs = o.Funcs
	s.Duration = o.Duration
	s.Deadline = o.Deadline
	return s
}

// request is the session request of these options for pod; over several
// pods (merged), an average becomes stats, which merge by count and total.
func (o *TraceOptions) request(pod string, merged bool) session.Request {
	program := o.Program
	if merged {
		program = mapmerge.AvgAsStats(program)
	}
	s := o.session(program)
	s.MarkMaps = o.Checks.active() // the final maps are marked, for the client to check
	req := session.Request{
		Pod: pod, Container: o.Container, Image: o.Image, Session: s, Program: program,
		StartTimeout: o.StartTimeout, ClientVersion: Version(), DryRun: o.DryRun, Asserts: o.Checks.Exprs,
	}
	if s.ProgramSize > 0 { // its text stays out of the pod: its maps are kept for stop and attach
		req.Maps = programMaps(program)
	}
	return req
}
