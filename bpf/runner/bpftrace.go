package runner

import (
	"context"
	"crypto/rand"
	"debug/buildinfo"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/trace-debug/kubectl-trace-debug/bpf/gofunc"
	"github.com/trace-debug/kubectl-trace-debug/bpf/program"
	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
)

// What bpftrace's peak resident memory is taken to be when the runner
// checks that it fits under the pod's limit: 0.27 peaks at about 165 MB
// compiling a one-probe program and at about 520 MB for the 360 probes of
// tracepoint:syscalls:sys_enter_* (0.17: about 100 MB for one probe).
const (
	bpftraceBaseMemory     = 192 << 20
	bpftracePerProbeMemory = 1 << 20
)

// bpftraceEngine runs the session's bpftrace program, composed by Compose.
type bpftraceEngine struct {
	o        Options
	features <-chan Features
}

// detectFeatures learns bpftrace's features for a bpftrace session, at once,
// while the runner waits for its client: from o.TracerVersion, which the
// image records, or by asking the binary. Other engines get nothing.
func (o Options) detectFeatures() <-chan Features {
	ch := make(chan Features, 1)
	switch {
	case o.Session.Engine() != protocol.EngineBpftrace:
	case parseVersion(o.TracerVersion) != nil:
		ch <- FeaturesOf(o.TracerVersion)
	default:
		go func() { ch <- DetectFeatures(o.Tracer) }()
	}
	return ch
}

func (*bpftraceEngine) NeedsKernelTypes() bool { return true }

// PeakMemory grows with the number of probes, tracepoint wildcards expanded
// against the kernel's events.
func (e *bpftraceEngine) PeakMemory() uint64 {
	// The image records its bpftrace's version; without it, assume the
	// wildcard is not rewritten (the larger estimate).
	rewrite := parseVersion(e.o.TracerVersion) != nil && FeaturesOf(e.o.TracerVersion).SyscallRewrite
	return bpftraceBaseMemory + uint64(estimateProbes(e.o.Session.Program, e.o.Kernel.EventsDir(), rewrite))*bpftracePerProbeMemory
}

// estimateProbes counts the probes a program attaches: a tracepoint wildcard
// counts the events it matches in eventsDir, any other attach point one; a
// syscall wildcard the runner rewrites (with rewrite) counts as the one
// probe it becomes.
func estimateProbes(src, eventsDir string, rewrite bool) int {
	p, err := program.Parse(src)
	if err != nil {
		return 1
	}
	n := 0
	for _, pr := range p.Probes() {
		if rewrite {
			if names, _, _ := rewriteSyscallWildcard(pr.Copy(pr.Points), map[uint32]string{0: "read"}); names != nil {
				n++
				continue
			}
		}
		for _, pt := range pr.Points {
			parts := strings.Split(pt, ":")
			if program.Provider(pt) == "tracepoint" && len(parts) == 3 && strings.ContainsAny(pt, "*?[") && eventsDir != "" {
				if m, err := filepath.Glob(filepath.Join(eventsDir, parts[1], parts[2])); err == nil && len(m) > 0 {
					n += len(m)
					continue
				}
			}
			n++
		}
	}
	return n
}

// Start composes the program and starts bpftrace.
func (e *bpftraceEngine) Start(_ context.Context, t Target) (Trace, error) {
	o := e.o
	f := <-e.features
	fmt.Fprintln(o.Stderr, f.versionNote(o.Tracer))
	opts := ComposeOptions{Features: f, UnsafeUretprobe: o.Session.UnsafeUretprobe, JSON: o.Session.JSON, Marker: newMarker(), MarkMaps: o.Session.MarkMaps,
		Files: TargetFiles{ProcRoot: t.ProcRoot, PID: t.PID}, TraceableFunctions: o.Kernel.TraceableFunctions}
	if o.Session.NodeWide {
		o.say("tracing node-wide (--node-wide): probes fire for every process on the node, not only the pod's")
	} else {
		scope, err := scopeOf(t)
		if err != nil {
			return nil, fail(protocol.ExitTargetNotFound, err)
		}
		opts.Scope = &scope
	}
	if f.SyscallRewrite && strings.Contains(o.Session.Program, "syscalls:sys_") {
		var err error
		if opts.Syscalls, err = SyscallTracepoints(o.Kernel.EventsDir()); err != nil {
			o.say("syscall wildcards run as written, a probe per syscall: %v", err)
		}
	}
	c, err := o.compose(SubstituteContainerPID(o.Session.Program, t.PID), opts, t.Env)
	if errors.Is(err, ErrUnsafeRide) {
		return nil, fail(protocol.ExitUnsafeRide, err)
	}
	if err != nil {
		return nil, fail(protocol.ExitUnsafeProgram, err)
	}
	for _, n := range c.Notes {
		o.say("%s", n)
	}
	return startBpftrace(o, t, c, f)
}

// undefinedMapRE finds bpftrace's complaint about a map no probe defines.
var undefinedMapRE = regexp.MustCompile(`Undefined map: (@[A-Za-z0-9_]*)`)

// compose is Compose, and then, for a program that lets bpftrace drop the
// probes it cannot attach, withoutUndefinedMaps.
func (o Options) compose(program string, opts ComposeOptions, env []string) (Composition, error) {
	c, err := Compose(program, opts, FileBinaries{})
	if err != nil || !c.IgnoresMissingProbes || !c.DumpProbe || !opts.Features.DryRun {
		return c, err
	}
	return o.withoutUndefinedMaps(program, opts, c, env), nil
}

// withoutUndefinedMaps recomposes c without the maps bpftrace finds
// undefined: a program whose config says missing_probes = ignore loses the
// probes bpftrace cannot attach, and with them the maps only they use, which
// the dump probe would then name in vain. bpftrace itself tells which
// (--dry-run), so the program runs as it does without the runner.
func (o Options) withoutUndefinedMaps(program string, opts ComposeOptions, c Composition, env []string) Composition {
	opts.OmitMaps = map[string]bool{}
	for range 4 { // bpftrace may name one map at a time
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		cmd := exec.CommandContext(ctx, o.Tracer, append(append([]string{"--dry-run"}, c.Args...), "-")...)
		cmd.Env = append(os.Environ(), env...)
		cmd.Stdin = strings.NewReader(c.Program)
		out, _ := cmd.CombinedOutput()
		cancel()
		found := false
		for _, m := range undefinedMapRE.FindAllStringSubmatch(string(out), -1) {
			found = found || !opts.OmitMaps[m[1]]
			opts.OmitMaps[m[1]] = true
		}
		if !found {
			return c
		}
		next, err := Compose(program, opts, FileBinaries{})
		if err != nil {
			return c
		}
		omitted := slices.Sorted(maps.Keys(opts.OmitMaps))
		next.Notes = append(next.Notes, fmt.Sprintf("%s not printed on demand: bpftrace drops the probes that use them (missing_probes = ignore)", strings.Join(omitted, ", ")))
		c = next
	}
	return c
}

// scopeOf reads the namespaces that scope a trace to t's pod.
func scopeOf(t Target) (Scope, error) {
	pidns, err := nsInode(filepath.Join(t.ProcRoot, strconv.Itoa(t.PID), "ns/pid"))
	if err != nil {
		return Scope{}, err
	}
	mntns, err := nsInode(filepath.Join(t.ProcRoot, "self/ns/mnt"))
	if err != nil {
		return Scope{}, err
	}
	return Scope{PIDNamespace: pidns, TracerMountNamespace: mntns}, nil
}

func nsInode(path string) (uint64, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return 0, fmt.Errorf("read namespace %s: %w", path, err)
	}
	return st.Ino, nil
}

func newMarker() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "trace-debug-maps-printed-" + hex.EncodeToString(b)
}

// FileBinaries reads executables from the file system: the Binaries the
// runner composes with.
type FileBinaries struct{}

// IsGo reports whether path holds Go build information.
func (FileBinaries) IsGo(path string) bool {
	_, err := buildinfo.ReadFile(path)
	return err == nil
}

// Resolve is gofunc.Resolve.
func (FileBinaries) Resolve(path string, patterns []string) ([]gofunc.Func, error) {
	return gofunc.Resolve(path, patterns)
}

// bpftraceTrace is a running bpftrace.
type bpftraceTrace struct {
	o       Options
	cmd     *exec.Cmd
	dump    bool
	added   int // probes the runner added to the program
	ready   chan int
	probes  chan int // the announced count, for the stop grace
	done    chan struct{}
	exited  chan struct{}
	waitErr error
	markers <-chan struct{}
	tables  []Table // filled once the probes are attached, before ready

	mu         sync.Mutex
	sigintFDs  int // probe fds open when the first SIGINT was sent; -1 before
	fillFailed bool
	isReady    bool
	stopping   bool
	dumped     bool
	code       int
	program    int // the program's own exit(N), when code is ExitProgramExit
}

func startBpftrace(o Options, t Target, c Composition, f Features) (Trace, error) {
	// The program goes to bpftrace on its stdin ("-"): an argument is
	// limited to 128 KiB by the kernel, a program to protocol.MaxProgram.
	args := append(append([]string{}, c.Args...), "-")
	if o.Session.JSON {
		args = append([]string{"-f", "json"}, args...)
	}
	announced := make(chan int, 1)
	markers := make(chan struct{})
	stdout := newMarkerCutter(o.Stdout, c.Marker, c.Added, markers)
	quiet := newQuietWriter(o.Stderr, c.Added, scopeMarker)
	quiet.own = c.OwnOffsetPoints
	outs := newAnnounceWatchers(announced, stdout, quiet)
	cmd := exec.Command(o.Tracer, args...)
	cmd.Env = append(os.Environ(), t.Env...)
	cmd.Stdin = strings.NewReader(c.Program)
	cmd.Stdout, cmd.Stderr = outs[0], outs[1]
	// Its own process group, so terminal and runner signals reach it only
	// through the runner; and it dies with the runner.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fail(protocol.ExitProgramRejected, fmt.Errorf("start %s: %w", o.Tracer, err))
	}
	tr := &bpftraceTrace{o: o, cmd: cmd, dump: c.DumpProbe, added: c.Added, ready: make(chan int, 1), probes: make(chan int, 1),
		done: make(chan struct{}), exited: make(chan struct{}), markers: markers, sigintFDs: -1, tables: c.Tables}
	go func() {
		tr.waitErr = cmd.Wait()
		stdout.Flush()
		quiet.Flush()
		close(tr.exited)
	}()
	readyCh := make(chan struct{})
	go reportReady(context.Background(), o.ProcRoot, cmd.Process.Pid, f.AttachedAfter, announced, readyCh, tr.probes, tr.exited)
	go tr.follow(readyCh)
	return tr, nil
}

// follow turns the tracer's progress into the Trace's channels: ready when
// its probes are attached, done when the dump marker is seen (then bpftrace
// is killed: its maps are printed, only the slow detaching is left) or when
// it exits.
func (t *bpftraceTrace) follow(readyCh <-chan struct{}) {
	for {
		select {
		case <-readyCh:
			readyCh = nil
			if err := fillTables(t.o.ProcRoot, t.cmd.Process.Pid, t.tables); err != nil {
				t.o.say("%v: the rewritten program would see no names; stopping it", err)
				t.mu.Lock()
				t.fillFailed = true
				t.mu.Unlock()
				t.Kill()
				continue
			}
			t.mu.Lock()
			t.isReady = true
			t.mu.Unlock()
			n := <-t.probes
			t.probes <- n
			t.ready <- max(n-t.added, 0)
		case <-t.markers:
			t.o.say("peak memory of bpftrace: %s", vmHWM(t.o.ProcRoot, t.cmd.Process.Pid))
			t.mu.Lock()
			t.dumped, t.code = true, 0
			t.mu.Unlock()
			t.Kill()
			close(t.done)
			return
		case <-t.exited:
			t.finishExited(readyCh)
			close(t.done)
			return
		}
	}
}

// finishExited sets the exit code of a tracer that ended by itself or after
// SIGINT.
func (t *bpftraceTrace) finishExited(readyCh <-chan struct{}) {
	code := exitCode(t.waitErr)
	if ru, ok := t.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		t.o.say("peak memory of bpftrace: %d kB", ru.Maxrss)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.isReady && readyCh != nil {
		select {
		case <-readyCh:
			t.isReady = true
		default:
		}
	}
	if t.fillFailed {
		code = protocol.ExitProgramRejected
	}
	if !t.isReady && code != 0 && !t.stopping && !t.fillFailed {
		t.o.say("%s exited with code %d before its probes were attached", t.o.Tracer, code)
		code = protocol.ExitProgramRejected
	}
	if ws, ok := t.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && t.isReady && !t.fillFailed && !ws.Signaled() && code > 1 {
		// The program's own exit(N): reported as the program's, never as
		// one of the runner's codes (or the client's) that N may equal.
		t.o.say("the program ended itself with exit(%d)", code)
		t.program, code = code, protocol.ExitProgramExit
	}
	t.code = code
}

// ProgramExit is the program's own exit(N) when the session's code is
// protocol.ExitProgramExit.
func (t *bpftraceTrace) ProgramExit() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.program
}

func (t *bpftraceTrace) Ready() <-chan int     { return t.ready }
func (t *bpftraceTrace) Done() <-chan struct{} { return t.done }

func (t *bpftraceTrace) ExitCode() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.code
}

// Stop asks for the maps: SIGUSR1 to the dump probe once the probes are
// attached, else SIGINT (bpftrace then detaches every probe before it prints
// the maps: tens of seconds for hundreds of tracepoints).
func (t *bpftraceTrace) Stop() {
	t.mu.Lock()
	t.stopping = true
	dump := t.dump && t.isReady
	t.mu.Unlock()
	if dump {
		_ = syscall.Kill(t.cmd.Process.Pid, syscall.SIGUSR1)
		return
	}
	if !t.interruptTaken() {
		_ = syscall.Kill(-t.cmd.Process.Pid, syscall.SIGINT)
	}
}

// interruptTaken reports whether bpftrace has acted on a SIGINT sent
// before: its probes' file descriptors have begun to close (it detaches
// them before it prints the maps). A SIGINT it missed leaves them all open
// and is sent again; one sent while it detaches could kill a slow bpftrace
// (exit 130, maps lost), so none is.
func (t *bpftraceTrace) interruptTaken() bool {
	n := countProbeFDs(t.o.ProcRoot, t.cmd.Process.Pid)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.sigintFDs < 0 { // the first SIGINT
		t.sigintFDs = n
		return false
	}
	return n < t.sigintFDs
}

func (t *bpftraceTrace) Kill() { _ = syscall.Kill(-t.cmd.Process.Pid, syscall.SIGKILL) }

// StopGrace: the dump takes a fraction of a second; without it, bpftrace
// needs time per probe to detach.
func (t *bpftraceTrace) StopGrace() time.Duration {
	t.mu.Lock()
	dump := t.dump && t.isReady
	t.mu.Unlock()
	if dump {
		return t.o.StopGrace
	}
	select {
	case n := <-t.probes:
		t.probes <- n
		return t.o.StopGrace + time.Duration(n)*PerProbeGrace
	default:
		return t.o.StopGrace
	}
}

// Close waits until bpftrace is gone (its probes detached), up to a bound.
func (t *bpftraceTrace) Close() {
	select {
	case <-t.exited:
	case <-time.After(5 * time.Minute):
		t.o.say("bpftrace still exiting after 5 minutes")
	}
}

// vmHWM is a process's peak resident memory (VmHWM).
func vmHWM(procRoot string, pid int) string {
	b, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "status"))
	if err != nil {
		return "unknown"
	}
	return statusField(string(b), "VmHWM:")
}
