//go:build root

package runner

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// toolsDir holds bpftrace's own tools as its package ships them:
// $TRACE_DEBUG_BPFTRACE_TOOLS (make test points it at the runner image's),
// or /usr/sbin.
func toolsDir() string {
	if d := os.Getenv("TRACE_DEBUG_BPFTRACE_TOOLS"); d != "" {
		return d
	}
	return "/usr/sbin"
}

// verdict is how bpftrace --dry-run fares with a program: "ok", or its
// first error with the runner's path prefix taken out and /usr/lib as /lib.
func verdict(t *testing.T, src string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, tracer(), "--dry-run", "-")
	cmd.Stdin = strings.NewReader(src)
	out, err := cmd.CombinedOutput()
	if err == nil {
		return "ok"
	}
	for _, line := range strings.Split(string(out), "\n") {
		if i := strings.Index(line, "ERROR: "); i >= 0 {
			// The runner names files with their links resolved (merged /usr).
			return strings.ReplaceAll(strings.ReplaceAll(line[i:], "/proc/1/root", ""), "/usr/lib/", "/lib/")
		}
	}
	return "failed: " + err.Error()
}

// composeHere composes src as the runner would in this test's namespaces,
// where PID 1 (the test) stands for the target.
func composeHere(t *testing.T, src string) Composition {
	t.Helper()
	return composeHereFor(t, src, false)
}

// composeHereFor is composeHere for a session whose client reads the
// final maps (group: the maps line is added to the END probe).
func composeHereFor(t *testing.T, src string, group bool) Composition {
	t.Helper()
	scope, err := scopeOf(Target{PID: 1, ProcRoot: "/proc"})
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Tracer: tracer()}
	c, err := o.compose(src, ComposeOptions{Features: features(t), Scope: &scope, Marker: "M", MarkMaps: group, Files: TargetFiles{ProcRoot: "/proc", PID: 1}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Every tool bpftrace's package ships fares, composed by the runner, as it
// does as written: accepted or refused alike (the kernel here has no
// kprobes, so some are refused either way), with the same error; composed
// for a client that reads the final maps (--assert, several pods: the
// maps line ends the END probe) too.
func TestToolsFareAsWritten(t *testing.T) {
	if !features(t).SignalProbes {
		t.Skipf("bpftrace %s has no --dry-run (0.22)", features(t).Version)
	}
	if err := HostKernel().MountTracing(); err != nil {
		t.Fatal(err)
	}
	tools, _ := filepath.Glob(filepath.Join(toolsDir(), "*.bt"))
	if len(tools) < 30 {
		t.Fatalf("only %d tools in %s", len(tools), toolsDir())
	}
	accepted := 0
	for _, tool := range tools {
		t.Run(filepath.Base(tool), func(t *testing.T) {
			b, err := os.ReadFile(tool)
			if err != nil {
				t.Fatal(err)
			}
			want := verdict(t, string(b))
			got := verdict(t, composeHere(t, string(b)).Program)
			if got != want {
				t.Fatalf("composed: %s\nas written: %s", got, want)
			}
			if grouped := verdict(t, composeHereFor(t, string(b), true).Program); grouped != want {
				t.Fatalf("composed with the maps line: %s\nas written: %s", grouped, want)
			}
			if got == "ok" {
				accepted++
			}
		})
	}
	t.Logf("%d of %d tools accepted as written and composed", accepted, len(tools))
}

// constructs use each construct of bpftrace's language that the runner's
// reading of a program must get past; each ends by itself.
var constructs = []struct {
	name, since, src string
}{
	{"comments everywhere", "0.17", "/* a */ tracepoint:raw_syscalls:sys_enter /* b */ / pid > 0 /* c */ / // d\n{ @n = count(); /* } */ exit(); } // e\n"},
	{"multi-key maps and tuples", "0.17", `tracepoint:raw_syscalls:sys_enter { @m[comm, pid] = count(); $t = (1, "x"); @t = $t; exit(); }`},
	{"if, unroll and while", "0.17", `tracepoint:raw_syscalls:sys_enter { $i = 0; while ($i < 3) { $i++; } if ($i == 3) { @ok = 1; } else { @ok = 0; } unroll(2) { @u = count(); } exit(); }`},
	{"strings with braces and slashes", "0.17", `tracepoint:raw_syscalls:sys_enter /comm != "a/b{"/ { printf("}/{%s\n", "}"); @s = count(); exit(); }`},
	{"preprocessor lines", "0.17", "#include <linux/types.h>\n#define N 3\ntracepoint:raw_syscalls:sys_enter { @n = N; exit(); }"},
	{"struct definitions", "0.17", "struct point { int x; int y; }\ntracepoint:raw_syscalls:sys_enter { @p = sizeof(struct point); exit(); }"},
	{"config", "0.22", "config = { max_map_keys = 64 }\ntracepoint:raw_syscalls:sys_enter { @c = count(); exit(); }"},
	{"for over a map", "0.22", `tracepoint:raw_syscalls:sys_enter { @m[1] = 1; @m[2] = 2; for ($kv : @m) { @sum = sum($kv.1); } exit(); }`},
	{"macro with a map parameter", "0.25", "macro hit(@m) { @m = count() }\ntracepoint:raw_syscalls:sys_enter { hit(@calls); exit(); }"},
	{"macro with a value parameter", "0.25", "macro twice(x) { x * 2 }\ntracepoint:raw_syscalls:sys_enter { @t = twice(pid); exit(); }"},
	{"map declarations", "0.25", "let @h = hash(16);\ntracepoint:raw_syscalls:sys_enter { @h[pid] = 1; exit(); }"},
	// bpftrace 0.27.1 does not call fns yet, and crashes running a program
	// that declares one (SIGSEGV; with a parameter, --dry-run too): both
	// forms must fare alike under --dry-run.
	{"fn", "0.25", "fn one(): int64 { return 1; }\ntracepoint:raw_syscalls:sys_enter { @f = 1; exit(); }"},
	{"variable declarations", "0.24", `tracepoint:raw_syscalls:sys_enter { let $x: uint64 = 1; @x = $x; exit(); }`},
}

var versionPrefix = regexp.MustCompile(`^\d+\.\d+`)

// Each construct is accepted as written and as composed, and runs to the
// same maps, by this bpftrace where it knows the construct.
func TestConstructsComposed(t *testing.T) {
	f := features(t)
	if err := HostKernel().MountTracing(); err != nil {
		t.Fatal(err)
	}
	// The scope counts the test's PID namespace less the tracer's mount
	// namespace: a process in a mount namespace of its own makes the events.
	events := exec.Command("unshare", "--mount", "sh", "-c", "while :; do sleep 0.05; done")
	if err := events.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = events.Process.Kill(); _ = events.Wait() }()
	for _, c := range constructs {
		t.Run(c.name, func(t *testing.T) {
			if compareVersions(parseVersion(f.Version), parseVersion(c.since)) < 0 {
				t.Skipf("bpftrace %s does not know this construct (since %s)", f.Version, c.since)
			}
			composed := composeHere(t, c.src).Program
			if c.name == "fn" {
				if got, want := verdict(t, composed), verdict(t, c.src); got != want {
					t.Fatalf("--dry-run composed: %s, as written: %s", got, want)
				}
				return
			}
			want, err := runBpftrace(c.src)
			if err != nil {
				t.Fatalf("as written: %v\n%s", err, want)
			}
			got, err := runBpftrace(composed)
			if err != nil {
				t.Fatalf("composed: %v\n%s\n%s", err, got, composed)
			}
			if mapNames(got) != mapNames(want) {
				t.Fatalf("composed printed maps %q, as written %q", mapNames(got), mapNames(want))
			}
		})
	}
}

func runBpftrace(src string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, tracer(), "-")
	cmd.Stdin = strings.NewReader(src)
	out, err := cmd.Output()
	return string(out), err
}

// mapNames lists the maps bpftrace printed at exit (`@name[...]: ...`).
func mapNames(out string) string {
	seen := map[string]bool{}
	var names []string
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "@") {
			continue
		}
		n := line[:strings.IndexAny(line+":", "[:")]
		if !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	return strings.Join(names, " ")
}
