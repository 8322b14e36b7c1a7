// Package protocol is the contract between the client (debug/) and the runner
// that executes inside the ephemeral container (bpf/runner): the runner's
// command line, the control lines the client sends on the container's stdin,
// and the runner's own exit codes. It has no dependencies so both sides can
// import it without importing each other.
//
// Shared: the client (debug/) and the runner both use it; it links no eBPF
// and no Kubernetes code (boundary_test.go keeps it so).
package protocol

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"
)

// RunnerPath is where the runner binary lives in the runner image.
const RunnerPath = "/usr/local/bin/trace-debug-runner"

// Control lines the client writes to the runner's stdin, one per line.
const (
	// Hello is the first line of an attached client: the runner starts the
	// tracer only after it, so no output is written before anyone reads it.
	Hello = "hello"
	// Ping keeps an attached session alive; see Session.IdleTimeout.
	Ping = "ping"
	// Stop asks the runner to end the trace the Ctrl-C way (maps printed).
	Stop = "stop"
)

// Program sizes. Every session stays in the pod's spec forever (ephemeral
// containers cannot be removed) and one argument is limited to 128 KiB by
// the kernel: a program larger than MaxArgsProgram travels on the
// container's stdin instead of its args (ProgramLine), so a session adds at
// most a few KiB to the pod object.
const (
	// MaxProgram is the largest program a session takes.
	MaxProgram = 1 << 20
	// MaxArgsProgram is the largest program sent in the container's args.
	MaxArgsProgram = 4 << 10
)

// ProgramLine starts the control line that announces a program sent on
// stdin: "program N", followed by exactly N bytes of program text.
const ProgramLine = "program"

// ReadyLine is what the runner writes to stderr once every probe of the
// tracer is attached: from then on, events are seen. Clients wait for a
// line starting with ReadyPrefix.
func ReadyLine(probes int) string { return fmt.Sprintf("%s (%d)", ReadyPrefix, probes) }

// MapsLine is the line a group session's runner prints on stdout (for
// bpftrace as a printf of the program, so in order with its output) before
// the maps printed at the end: what follows is for the client to merge.
// The native engines' summaries follow it as JSON map lines (NativeMaps).
const MapsLine = "trace-debug-runner: final maps follow"

// NativeMaps are the maps of the native engines' summaries and their
// aggregations, by name: what the client needs to merge them.
var NativeMaps = map[string]string{
	"@syscalls": "count", "@syscalls_by_thread": "count",
	"@calls": "count", "@errors": "count", "@latency_us": "hist",
	"@goroutines": "count", "@states": "count",
	"@inuse_bytes": "count", "@alloc_bytes": "count",
}

// NativeModeMaps are the maps of NativeMaps each native engine prints, by
// engine: what a session of that engine declares.
var NativeModeMaps = map[Engine][]string{
	EngineSyscalls: {"@syscalls", "@syscalls_by_thread"},
	EngineFunc:     {"@calls", "@errors", "@latency_us"},
	// the goroutine dump's counts: by the function each waits in, by state
	EngineGoroutines: {"@goroutines", "@states"},
	// the memory profile's bytes by function (cumulative): in use, and
	// allocated (over the window with --alloc)
	EngineHeap: {"@inuse_bytes", "@alloc_bytes"},
}

// RunnerPrefix starts every line the runner writes itself (on stderr);
// the program's output never does.
const RunnerPrefix = "trace-debug-runner: "

// ReadyPrefix starts the ReadyLine.
const ReadyPrefix = RunnerPrefix + "probes attached"

// ResultLine is the runner's last line on stderr: the session's exit code.
// The runner then closes its output, so a client that has read it has read
// everything; the container itself may live on a little while the tracer's
// probes are detached (hundreds of tracepoints take tens of seconds).
func ResultLine(code int) string { return fmt.Sprintf("%s %d", ResultPrefix, code) }

// ResultPrefix starts the ResultLine.
const ResultPrefix = RunnerPrefix + "trace ended, exit code"

// ProgramOnStdin describes program for a session that sends it on stdin.
func ProgramOnStdin(program string) (size int, sha string, head string) {
	sum := sha256.Sum256([]byte(program))
	head, _, _ = strings.Cut(strings.TrimLeft(program, " \t\r\n"), "\n")
	if len(head) > 200 {
		head = head[:200]
	}
	return len(program), hex.EncodeToString(sum[:]), head
}

// ProgramResultLine is the ResultLine of a session whose program ended
// itself with exit(n), for an n that is not bpftrace's own (0, or 1 for its
// failures): the session's code is ExitProgramExit, whose meaning is the
// runner's, and n follows it for the client to report.
func ProgramResultLine(n int) string {
	return fmt.Sprintf("%s (%s%d))", ResultLine(ExitProgramExit), programExit, n)
}

// programExit precedes the program's own code in a ProgramResultLine.
const programExit = "the program's own exit("

// ParseProgramExit returns the program's own exit code from a
// ProgramResultLine.
func ParseProgramExit(line string) (int, bool) {
	code, ok := ParseResultLine(line)
	_, rest, found := strings.Cut(line, programExit)
	if !ok || code != ExitProgramExit || !found {
		return 0, false
	}
	var n int
	if _, err := fmt.Sscanf(rest, "%d))", &n); err != nil {
		return 0, false
	}
	return n, true
}

// ParseResultLine returns the exit code of a ResultLine.
func ParseResultLine(line string) (int, bool) {
	var code int
	if _, err := fmt.Sscanf(line, ResultPrefix+" %d", &code); err != nil {
		return 0, false
	}
	return code, true
}

// TracerVersionPrefix starts the runner's line naming the bpftrace it runs
// and what that version can do, e.g. "trace-debug-runner: bpftrace 0.27.1
// (maps on demand, Go return probes, namespaced pid)".
const TracerVersionPrefix = RunnerPrefix + "bpftrace "

// PingInterval is how often an attached client sends Ping.
const PingInterval = 2 * time.Second

// Exit codes of the runner itself. Any other code is the tracer's own: 0,
// 1 (bpftrace failed, or the program's exit(1)) or 128+N (killed by signal N).
const (
	// ExitProgramRejected: the tracer failed before attaching its probes
	// (syntax error, unknown probe, verifier rejection).
	ExitProgramRejected = 70
	// ExitKernelUnsupported: no BTF and no kernel headers, or tracefs could
	// not be mounted.
	ExitKernelUnsupported = 71
	// ExitTargetNotFound: the target container's process could not be found.
	ExitTargetNotFound = 72
	// ExitNoClient: an attached session's client never said hello.
	ExitNoClient = 73
	// ExitUsage: the runner was started with arguments it does not know
	// (client and image of different versions).
	ExitUsage = 74
	// ExitUnsafeProgram: the program would harm its target (a uretprobe on a
	// Go executable that cannot be rewritten) and the session did not insist.
	ExitUnsafeProgram = 75
	// ExitMemory: the tracer's expected peak memory does not fit in what the
	// pod's memory limit leaves, and the session did not insist.
	ExitMemory = 76
	// ExitExpired: the tracer started after its session's NotAfter (a slow
	// image pull, say) and did not trace.
	ExitExpired = 77
	// ExitProgramExit: the program ended itself with exit(N) for an N
	// other than 0 and 1 (bpftrace's own failure), which could read as one
	// of these codes; the result line gives N (ProgramResultLine).
	ExitProgramExit = 78
	// ExitUnsafeRide: the runner had to give bpftrace --unsafe (a
	// stripped Go executable's return probes) and the program has parts
	// that --unsafe would let through (system(), a raw-address uprobe...);
	// it was refused before anything was attached.
	ExitUnsafeRide = 79
	// ExitNoGoProcess: the goroutine dump found no Go process it could
	// read in the target (none is Go, or the Go release or binary is one
	// the reader does not know); the runner said which and why.
	ExitNoGoProcess = 80
	// ExitNoMemProfile: the memory profile found no Go process that keeps
	// one (its linker turned the profile off, or the program set
	// runtime.MemProfileRate to 0); the runner said which and why.
	ExitNoMemProfile = 81
)

// Session is everything the runner needs to know about one trace. The client
// encodes it as the ephemeral container's args; the runner parses them back,
// so the container spec itself records what the session is.
type Session struct {
	// Program is the bpftrace program text, before $container_pid
	// substitution, when it travels in the args (see MaxArgsProgram).
	Program string
	// ProgramSize, ProgramSHA256 and ProgramHead describe a program sent on
	// stdin instead (ProgramLine): its length, its hash (hex) and its first
	// line, for listing.
	ProgramSize   int
	ProgramSHA256 string
	ProgramHead   string
	// ContainerID is the target container's runtime ID (without the
	// "containerd://" prefix), used to find its processes.
	ContainerID string
	// SharedPID is true when the pod shares one PID namespace across its
	// containers (shareProcessNamespace or hostPID), so PID 1 is not the target.
	SharedPID bool
	// Attached sessions wait for Hello and end when the client goes away.
	Attached bool
	// Duration ends the trace the Ctrl-C way after this long; 0 means no limit.
	Duration time.Duration
	// Deadline is the hard upper bound of the session's life.
	Deadline time.Duration
	// NotAfter is when the session must be over by the client's clock:
	// injection time plus Deadline, so a tracer that starts late (a slow
	// image pull) does not run its whole Deadline after that.
	NotAfter time.Time
	// HelloTimeout bounds how long an attached session waits for its client.
	HelloTimeout time.Duration
	// IdleTimeout ends an attached session whose client sent nothing for this long.
	IdleTimeout time.Duration
	// JSON asks the tracer for one JSON object per line.
	JSON bool
	// UnsafeUretprobe lets uretprobes on Go executables through unchanged.
	UnsafeUretprobe bool
	// NodeWide lets the probes of a bpftrace program fire for every process
	// on the node; by default they fire only for the target's PID namespace.
	NodeWide bool
	// IgnoreMemoryLimit starts the tracer even when its expected peak memory
	// does not fit under the pod's memory limit.
	IgnoreMemoryLimit bool
	// MarkMaps says the client reads the final maps (to merge a group's,
	// to check assertions): the runner prints MapsLine before the maps it
	// prints at the end (a native engine's summary then as JSON). Its flag
	// keeps its first name, --group, which runners of earlier versions
	// read.
	MarkMaps bool
	// Syscalls runs the native syscall census instead of a bpftrace program.
	Syscalls bool
	// Funcs are Go function patterns (main.counterValue, main.*) for the
	// native Go function tracer, instead of a bpftrace program; each may
	// declare its results for a binary without DWARF (see SplitFunc).
	Funcs []string
	// Goroutines reads the goroutines of the target's Go processes once
	// (the goroutine dump).
	Goroutines bool
	// WallHz, when set, reads the goroutines of the target's Go processes
	// this many times a second, each reading a sample of every goroutine's
	// state and stack (the wall-clock profile); at most MaxCPUHz.
	WallHz int
	// CPUHz, when set, samples the target's on-CPU stacks this many times a
	// second on each CPU (the native CPU profile), instead of a program; at
	// most MaxCPUHz.
	CPUHz int
	// Heap reads the memory profile of the target's Go processes once (as
	// of their last garbage collection); Alloc reads it when the session
	// starts and when it stops, and gives what was allocated between.
	Heap, Alloc bool
}

// MaxCPUHz bounds the CPU profile's sampling rate: past it the sampling
// itself would cost the target more than a profile is worth.
const MaxCPUHz = 1000

// Engine names a way of tracing.
type Engine string

// The engines.
const (
	// EngineBpftrace runs the session's bpftrace program.
	EngineBpftrace Engine = "bpftrace"
	// EngineSyscalls is the native syscall census (--syscalls).
	EngineSyscalls Engine = "syscalls"
	// EngineFunc is the native Go function tracer (--func).
	EngineFunc Engine = "func"
	// EngineCPU is the native CPU profile (--cpu).
	EngineCPU Engine = "cpu"
	// EngineGoroutines is the goroutine dump (--goroutines).
	EngineGoroutines Engine = "goroutines"
	// EngineWall is the wall-clock profile of the goroutines (--wall).
	EngineWall Engine = "wall"
	// EngineHeap is the memory profile of the Go processes (--heap,
	// --alloc).
	EngineHeap Engine = "heap"
)

// Engine is the engine s asks for; "" when it asks for none or several.
func (s Session) Engine() Engine {
	if s.Engines() != 1 {
		return ""
	}
	switch {
	case s.Syscalls:
		return EngineSyscalls
	case len(s.Funcs) > 0:
		return EngineFunc
	case s.CPUHz > 0:
		return EngineCPU
	case s.Goroutines:
		return EngineGoroutines
	case s.WallHz > 0:
		return EngineWall
	case s.Heap || s.Alloc:
		return EngineHeap
	}
	return EngineBpftrace
}

// Native reports whether s runs one of the runner's own engines, which need
// no bpftrace in the image.
func (s Session) Native() bool {
	e := s.Engine()
	return e == EngineSyscalls || e == EngineFunc || e == EngineCPU || e == EngineGoroutines || e == EngineWall || e == EngineHeap
}

// Engines counts the engines s asks for: a valid session asks for one of a
// bpftrace program, the syscall census, the Go function tracer, the CPU
// profile, the goroutine dump, the wall-clock profile and the memory
// profile (--heap and --alloc count as one: --alloc's window is --heap's
// reading twice).
func (s Session) Engines() int {
	n := 0
	for _, on := range []bool{s.Program != "" || s.ProgramSize > 0, s.Syscalls, len(s.Funcs) > 0, s.CPUHz > 0, s.Goroutines, s.WallHz > 0, s.Heap || s.Alloc} {
		if on {
			n++
		}
	}
	return n
}

// DefaultSession returns a Session with the runner's default bounds.
func DefaultSession() Session {
	return Session{
		Deadline:     time.Hour,
		HelloTimeout: time.Minute,
		IdleTimeout:  15 * time.Second,
	}
}

// Args encodes s as command-line arguments for the runner.
func (s Session) Args() []string {
	var args []string
	if s.Program != "" {
		args = append(args, "--program="+s.Program)
	}
	if s.ProgramSize > 0 {
		args = append(args, fmt.Sprintf("--program-size=%d", s.ProgramSize), "--program-sha256="+s.ProgramSHA256, "--program-head="+s.ProgramHead)
	}
	args = append(args,
		"--deadline="+s.Deadline.String(),
		"--hello-timeout="+s.HelloTimeout.String(),
		"--idle-timeout="+s.IdleTimeout.String(),
	)
	if !s.NotAfter.IsZero() {
		args = append(args, "--not-after="+s.NotAfter.UTC().Format(time.RFC3339))
	}
	if s.ContainerID != "" {
		args = append(args, "--container-id="+s.ContainerID)
	}
	if s.SharedPID {
		args = append(args, "--shared-pid")
	}
	if s.Attached {
		args = append(args, "--attached")
	}
	if s.Duration > 0 {
		args = append(args, "--duration="+s.Duration.String())
	}
	if s.JSON {
		args = append(args, "--json")
	}
	if s.UnsafeUretprobe {
		args = append(args, "--unsafe-uretprobe")
	}
	if s.NodeWide {
		args = append(args, "--node-wide")
	}
	if s.IgnoreMemoryLimit {
		args = append(args, "--ignore-memory-limit")
	}
	if s.MarkMaps {
		args = append(args, "--group") // the flag's name of earlier versions, kept
	}
	if s.Syscalls {
		args = append(args, "--syscalls")
	}
	for _, f := range s.Funcs {
		args = append(args, "--func="+f)
	}
	if s.Goroutines {
		args = append(args, "--goroutines")
	}
	if s.WallHz > 0 {
		args = append(args, fmt.Sprintf("--wall-hz=%d", s.WallHz))
	}
	if s.CPUHz > 0 {
		args = append(args, fmt.Sprintf("--cpu-hz=%d", s.CPUHz))
	}
	if s.Heap {
		args = append(args, "--heap")
	}
	if s.Alloc {
		args = append(args, "--alloc")
	}
	return args
}

// ErrUsage marks arguments the runner cannot parse.
var ErrUsage = errors.New("bad runner arguments")

// ParseArgs decodes arguments written by Session.Args.
func ParseArgs(args []string) (Session, error) {
	s := DefaultSession()
	fs := flag.NewFlagSet("trace-debug-runner", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&s.Program, "program", "", "bpftrace program")
	fs.IntVar(&s.ProgramSize, "program-size", 0, "size of the program sent on stdin")
	fs.StringVar(&s.ProgramSHA256, "program-sha256", "", "sha256 of the program sent on stdin")
	fs.StringVar(&s.ProgramHead, "program-head", "", "first line of the program sent on stdin")
	fs.StringVar(&s.ContainerID, "container-id", "", "target container ID")
	fs.BoolVar(&s.SharedPID, "shared-pid", false, "pod shares its PID namespace")
	fs.BoolVar(&s.Attached, "attached", false, "wait for a client and stop when it leaves")
	fs.DurationVar(&s.Duration, "duration", 0, "stop after this long")
	fs.BoolVar(&s.JSON, "json", false, "tracer output as JSON lines")
	fs.BoolVar(&s.UnsafeUretprobe, "unsafe-uretprobe", false, "allow uretprobes on Go executables")
	fs.BoolVar(&s.NodeWide, "node-wide", false, "probes fire for every process on the node")
	fs.BoolVar(&s.MarkMaps, "group", false, "the client reads the final maps (a group's, to merge; assertions, to check): mark them with the maps line")
	fs.BoolVar(&s.IgnoreMemoryLimit, "ignore-memory-limit", false, "start even if the tracer may not fit under the memory limit")
	fs.BoolVar(&s.Syscalls, "syscalls", false, "run the native syscall census")
	fs.Func("func", "trace this Go function (repeatable)", func(v string) error { s.Funcs = append(s.Funcs, v); return nil })
	fs.BoolVar(&s.Goroutines, "goroutines", false, "read the goroutines of the target's Go processes once (the goroutine dump)")
	fs.IntVar(&s.WallHz, "wall-hz", 0, "read the goroutines' states and stacks this many times a second (the wall-clock profile)")
	fs.IntVar(&s.CPUHz, "cpu-hz", 0, "sample the on-CPU stacks this many times a second (the CPU profile)")
	fs.BoolVar(&s.Heap, "heap", false, "read the memory profile of the target's Go processes once")
	fs.BoolVar(&s.Alloc, "alloc", false, "read the memory profile at the start and at the end: what was allocated between")
	fs.DurationVar(&s.Deadline, "deadline", s.Deadline, "hard bound of the session")
	fs.Func("not-after", "when the session must be over (RFC 3339)", func(v string) error {
		t, err := time.Parse(time.RFC3339, v)
		s.NotAfter = t
		return err
	})
	fs.DurationVar(&s.HelloTimeout, "hello-timeout", s.HelloTimeout, "how long to wait for the client")
	fs.DurationVar(&s.IdleTimeout, "idle-timeout", s.IdleTimeout, "stop when the client is silent this long")
	if err := fs.Parse(args); err != nil {
		return Session{}, fmt.Errorf("%w: %w", ErrUsage, err)
	}
	if fs.NArg() > 0 {
		return Session{}, fmt.Errorf("%w: unexpected argument %q", ErrUsage, fs.Arg(0))
	}
	if s.Engines() != 1 {
		return Session{}, fmt.Errorf("%w: want exactly one of --program, --syscalls, --func and --cpu-hz", ErrUsage)
	}
	if s.Deadline <= 0 {
		return Session{}, fmt.Errorf("%w: --deadline must be positive", ErrUsage)
	}
	if s.WallHz < 0 || s.WallHz > MaxCPUHz {
		return Session{}, fmt.Errorf("%w: --wall-hz must be 1 to %d", ErrUsage, MaxCPUHz)
	}
	if s.CPUHz < 0 || s.CPUHz > MaxCPUHz {
		return Session{}, fmt.Errorf("%w: --cpu-hz must be 1 to %d", ErrUsage, MaxCPUHz)
	}
	if s.ProgramSize < 0 || s.ProgramSize > MaxProgram || s.ProgramSize > 0 && (s.Program != "" || len(s.ProgramSHA256) != 64) {
		return Session{}, fmt.Errorf("%w: a program on stdin needs --program-size (at most %d) and --program-sha256, and no --program", ErrUsage, MaxProgram)
	}
	return s, nil
}

// SplitFunc splits a --func spec, `PATTERN` or `PATTERN=T1,T2,...`, into
// its function pattern and the Go types of the results it declares (nil
// when it declares none): what the tracer takes a function's results to be
// when its binary has no DWARF (stripped), so that an error result, and
// with it @errors, can be seen.
func SplitFunc(spec string) (pattern string, results []string, err error) {
	pattern, decl, found := strings.Cut(spec, "=")
	pattern = strings.TrimSpace(pattern)
	if pattern == "" {
		return "", nil, fmt.Errorf("read --func %q: no function", spec)
	}
	if !found {
		return pattern, nil, nil
	}
	for _, t := range strings.Split(decl, ",") {
		t = strings.TrimSpace(t)
		if t == "" || strings.ContainsAny(t, " \t=") {
			return "", nil, fmt.Errorf("read --func %q: its results are Go types separated by commas, such as main.handle=int,error", spec)
		}
		results = append(results, t)
	}
	return pattern, results, nil
}
