package runner

import (
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"

	"github.com/trace-debug/kubectl-trace-debug/bpf/gofunc"
	"github.com/trace-debug/kubectl-trace-debug/internal/testgo"
)

// fakeBinaries: /app/server is a Go executable with symbols, /app/stripped
// one without; main.counterValue returns at two places.
type fakeBinaries struct{}

func (fakeBinaries) IsGo(path string) bool { return strings.HasPrefix(path, "/app/") }

func (fakeBinaries) Resolve(path string, patterns []string) ([]gofunc.Func, error) {
	if patterns[0] != "main.counterValue" {
		return nil, errors.New(`no function "` + patterns[0] + `"`)
	}
	return []gofunc.Func{{Name: "main.counterValue", Entry: 0x1000, Returns: []uint64{0x1010, 0x1024}, Symbol: path == "/app/server"}}, nil
}

func TestCompose(t *testing.T) {
	newest := FeaturesOf("0.27.1")
	scope := &Scope{PIDNamespace: 11, TracerMountNamespace: 22}
	const pred = "curtask->nsproxy->pid_ns_for_children->ns.inum == 11 && curtask->nsproxy->mnt_ns->ns.inum != 22"
	for _, c := range []struct {
		name     string
		src      string
		opts     ComposeOptions
		want     string
		wantArgs []string
	}{
		{
			name: "seed census, scoped, with the dump probe",
			src:  `tracepoint:syscalls:sys_enter_* { @[probe] = count(); }`,
			opts: ComposeOptions{Features: newest, Scope: scope, Marker: "M"},
			want: `tracepoint:syscalls:sys_enter_* /` + pred + `/ { @[probe] = count(); }` +
				"\n" + `self:signal:SIGUSR1 { printf("\n\n"); print(@); printf("M\n"); exit(); }`,
		},
		{
			name: "a group's session marks the final maps",
			src:  `uprobe:/bin/x:f { @calls = count(); }`,
			opts: ComposeOptions{Features: newest, Scope: scope, Marker: "M", MarkMaps: true},
			want: `uprobe:/bin/x:f /` + pred + `/ { @calls = count(); }` +
				"\n" + `END, self:signal:SIGUSR1 { printf("` + protocol.MapsLine + `\n"); }` +
				"\n" + `self:signal:SIGUSR1 { printf("\n\n"); print(@calls); printf("M\n"); exit(); }`,
		},
		{
			name: "a group's program that ends itself marks its final maps at its own END",
			src:  "interval:s:1 { exit(); }\nEND { printf(\"bye\\n\") } // done",
			opts: ComposeOptions{Features: newest, Scope: scope, Marker: "M", MarkMaps: true},
			want: "interval:s:1 { exit(); }\nEND, self:signal:SIGUSR1 { printf(\"bye\\n\"); \nprintf(\"" + protocol.MapsLine + "\\n\");\n}" +
				" // done\n" + `self:signal:SIGUSR1 { printf("M\n"); exit(); }`,
		},
		{
			name: "an END that shares its body is split off, so the maps line comes at the end only",
			src:  `END, interval:s:1 { printf("tick\n"); }`,
			opts: ComposeOptions{Features: newest, Marker: "M", MarkMaps: true},
			want: `interval:s:1 { printf("tick\n"); }` + "\n" + `END, self:signal:SIGUSR1 { printf("tick\n"); ` + "\nprintf(\"" + protocol.MapsLine + "\\n\");\n}" +
				"\n" + `self:signal:SIGUSR1 { printf("M\n"); exit(); }`,
		},
		{
			name: "of two END probes (0.27), the last prints the maps line",
			src:  "END { printf(\"a\\n\"); }\nEND { printf(\"b\\n\"); }",
			opts: ComposeOptions{Features: newest, Marker: "M", MarkMaps: true},
			want: "END, self:signal:SIGUSR1 { printf(\"a\\n\"); }\nEND, self:signal:SIGUSR1 { printf(\"b\\n\"); \nprintf(\"" + protocol.MapsLine + "\\n\");\n}" +
				"\n" + `self:signal:SIGUSR1 { printf("M\n"); exit(); }`,
		},
		{
			name: "0.17 (one END, no signal probes) marks the maps it prints at exit",
			src:  `uprobe:/bin/x:f { @calls = count(); }`,
			opts: ComposeOptions{Features: FeaturesOf("0.17.0"), Scope: scope, MarkMaps: true},
			want: `uprobe:/bin/x:f /` + pred + `/ { @calls = count(); }` + "\n" + `END { printf("` + protocol.MapsLine + `\n"); }`,
		},
		{
			name: "node-wide, JSON: no scope, no blank lines",
			src:  `kprobe:do_nanosleep /comm == "x"/ { @n = count(); }`,
			opts: ComposeOptions{Features: newest, JSON: true, Marker: "M"},
			want: `kprobe:do_nanosleep /comm == "x"/ { @n = count(); }` +
				"\n" + `self:signal:SIGUSR1 { print(@n); printf("M\n"); exit(); }`,
		},
		{
			name: "BEGIN, END and interval are not scoped; END also runs on the dump signal",
			src:  "BEGIN { @s = 1; }\nuprobe:/app/server:\"main.f\" /pid == 1/ { @c = count(); }\ninterval:s:1 { print(@c); }\nEND { clear(@s); }",
			opts: ComposeOptions{Features: newest, Scope: scope, Marker: "M"},
			want: "BEGIN { @s = 1; }\nuprobe:/app/server:\"main.f\" /(" + pred + ") && (pid == 1)/ { @c = count(); }\ninterval:s:1 { print(@c); }\n" +
				"END, self:signal:SIGUSR1 { clear(@s); }" +
				"\n" + `self:signal:SIGUSR1 { printf("\n\n"); print(@c); print(@s); printf("M\n"); exit(); }`,
		},
		{
			name: "mixed attach points are split",
			src:  `BEGIN, tracepoint:sched:sched_process_exec { @e = count(); }`,
			opts: ComposeOptions{Features: FeaturesOf("0.17.0"), Scope: scope},
			want: "BEGIN { @e = count(); }\ntracepoint:sched:sched_process_exec /" + pred + "/ { @e = count(); }",
		},
		{
			name: "seed's Go uretprobe becomes RET uprobes",
			src:  `uretprobe:/app/server:"main.counterValue" { printf("%d\n", retval) }`,
			opts: ComposeOptions{Features: newest, Marker: "M"},
			want: `uprobe:/app/server:"main.counterValue"+0x10, uprobe:/app/server:"main.counterValue"+0x24 { printf("%d\n", reg("ax")) }` +
				"\n" + `self:signal:SIGUSR1 { printf("M\n"); exit(); }`,
		},
		{
			name:     "stripped Go executable: by file offset, with --unsafe",
			src:      `ur:/app/stripped:main.counterValue { @r[retval] = count(); }`,
			opts:     ComposeOptions{Features: newest, Scope: scope, Marker: "M"},
			want:     `uprobe:/app/stripped:0x1010, uprobe:/app/stripped:0x1024 /` + pred + `/ { @r[reg("ax")] = count(); }` + "\n" + `self:signal:SIGUSR1 { printf("\n\n"); print(@r); printf("M\n"); exit(); }`,
			wantArgs: []string{"--unsafe"},
		},
		{
			name: "uretprobes on C code and --unsafe-uretprobe are left alone",
			src:  `uretprobe:/bin/bash:readline { printf("%s\n", str(retval)); }`,
			opts: ComposeOptions{Features: FeaturesOf("0.17.0")},
			want: `uretprobe:/bin/bash:readline { printf("%s\n", str(retval)); }`,
		},
		{
			name: "a program bpftrace will reject is passed on unchanged",
			src:  `BEGIN { printf("x" `,
			opts: ComposeOptions{Features: newest, Scope: scope, Marker: "M"},
			want: `BEGIN { printf("x" `,
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := Compose(c.src, c.opts, fakeBinaries{})
			if err != nil {
				t.Fatal(err)
			}
			if got.Program != c.want {
				t.Errorf("program:\n got %s\nwant %s", got.Program, c.want)
			}
			if strings.Join(got.Args, " ") != strings.Join(c.wantArgs, " ") {
				t.Errorf("args %q, want %q", got.Args, c.wantArgs)
			}
		})
	}
}

func TestComposeRefusesGoReturnProbes(t *testing.T) {
	for name, c := range map[string]struct {
		src  string
		f    Features
		want string
	}{
		"bpftrace without offset uprobes": {`uretprobe:/app/server:"main.counterValue" { }`, FeaturesOf("0.17.0"), "cannot place uprobes at an offset"},
		"function not found":              {`uretprobe:/app/server:main.gone { }`, FeaturesOf("0.27.1"), `no function "main.gone"`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Compose(c.src, ComposeOptions{Features: c.f}, fakeBinaries{})
			if !errors.Is(err, ErrGoReturnProbe) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "--func main.") || !strings.Contains(err.Error(), "--unsafe-uretprobe") {
				t.Fatalf("err = %v", err)
			}
		})
	}
	got, err := Compose(`uretprobe:/app/server:"main.counterValue" { }`, ComposeOptions{Features: FeaturesOf("0.17.0"), UnsafeUretprobe: true}, fakeBinaries{})
	if err != nil || !strings.HasPrefix(got.Program, "uretprobe:") {
		t.Fatalf("--unsafe-uretprobe must leave the probe as it is: %v %q", err, got.Program)
	}
}

// reachUnsafe are ways a program reaches what bpftrace's --unsafe enables,
// or might: each is refused when the runner adds --unsafe. bpftrace says,
// for those it refuses itself without --unsafe (TestUnsafeAsBpftraceSeesIt,
// from its version since).
var reachUnsafe = map[string]struct {
	decls, body, why string
	bpftraceRefuses  bool
	since            string
}{
	"in a probe":             {"", `system("id");`, "system()", true, "0.17"},
	"in a predicate":         {"", `if (signal("KILL")) {}`, "signal()", true, "0.17"},
	"signal_thread":          {"", `signal_thread("KILL");`, "signal_thread()", true, "0.25"},
	"in a macro":             {`macro m() { system("id") }`, `m();`, "system()", true, "0.25"},
	"in a nested macro":      {"macro a() { system(\"id\") }\nmacro b() { a() }", `b();`, "system()", true, "0.25"},
	"in a fn":                {`fn f(): int64 { system("id"); return 0; }`, `f();`, "system()", true, "0.25"},
	"override in a macro":    {`macro o() { override(1) }`, `o();`, "override()", false, ""},
	"write_user":             {"", `write_user((uint8 *)0, "x", 1);`, "write_user()", true, "0.25"},
	"comptime safe mode":     {"", `if comptime !__builtin_safe_mode { print(1); }`, "__builtin_safe_mode", false, ""},
	"a #define":              {"#define RUN system", `RUN("id");`, "preprocessor line", false, ""},
	"an import":              {`import "IMPORT";`, `sneaky();`, "brings in code", true, "0.25"},
	"a character literal":    {"", `$c = 'a'; system("id"); $d = 'b';`, "system()", false, ""},
	"a map keyed by a field": {"", `@[args.system] = count();`, "system()", false, ""},
}

func TestComposeNeverLetsUnsafeRideOnItsUnsafe(t *testing.T) {
	for name, c := range reachUnsafe {
		t.Run(name, func(t *testing.T) {
			src := c.decls + "\nur:/app/stripped:main.counterValue { " + c.body + " }"
			_, err := Compose(src, ComposeOptions{Features: FeaturesOf("0.27.1")}, fakeBinaries{})
			if !errors.Is(err, ErrUnsafeRide) || !strings.Contains(err.Error(), c.why) || !strings.Contains(err.Error(), "--func") {
				t.Fatalf("composed with the runner's --unsafe: %v", err)
			}
			// Without --unsafe (symbols), bpftrace itself refuses them.
			if _, err := Compose(c.decls+"\nur:/app/server:main.counterValue { "+c.body+" }", ComposeOptions{Features: FeaturesOf("0.27.1")}, fakeBinaries{}); err != nil {
				t.Fatalf("without --unsafe the runner leaves the judgement to bpftrace: %v", err)
			}
		})
	}
}

func TestComposeMacroMapParameters(t *testing.T) {
	src := "macro hit(@m) { @m = count() }\nuprobe:/bin/x:f { hit(@calls); }"
	got, err := Compose(src, ComposeOptions{Features: FeaturesOf("0.27.1"), Marker: "M"}, fakeBinaries{})
	if err != nil {
		t.Fatal(err)
	}
	want := src + "\n" + `self:signal:SIGUSR1 { printf("\n\n"); print(@calls); printf("M\n"); exit(); }`
	if got.Program != want {
		t.Fatalf("got\n%s\nwant\n%s", got.Program, want)
	}
}

// FileBinaries tells Go executables from others by reading them.
func TestFileBinaries(t *testing.T) {
	goBin, err := testgo.Build(t.TempDir(), "package main\n\n//go:noinline\nfunc counterValue() int { return 1 }\n\nfunc main() { println(counterValue()) }\n", "-ldflags=-s -w")
	if err != nil {
		t.Fatal(err)
	}
	bash, _ := exec.LookPath("bash")
	b := FileBinaries{}
	if !b.IsGo(goBin) || b.IsGo(bash) || b.IsGo("/nonexistent") {
		t.Fatalf("IsGo: go=%v bash=%v missing=%v", b.IsGo(goBin), b.IsGo(bash), b.IsGo("/nonexistent"))
	}
	funcs, err := b.Resolve(goBin, []string{"main.counterValue"})
	if err != nil || len(funcs) != 1 || len(funcs[0].Returns) == 0 || funcs[0].Symbol {
		t.Fatalf("Resolve on a stripped binary = %+v, %v", funcs, err)
	}
}

func TestFeaturesOf(t *testing.T) {
	for v, want := range map[string]Features{
		"v0.17.0": {Version: "0.17.0"},
		"0.22.1":  {Version: "0.22.1", SignalProbes: true, DryRun: true},
		"0.24.1":  {Version: "0.24.1", SignalProbes: true, OffsetUprobes: true, AttachedAfter: true, DryRun: true, SyscallRewrite: true},
		"0.27.1":  {Version: "0.27.1", SignalProbes: true, OffsetUprobes: true, NamespacePID: true, AttachedAfter: true, DryRun: true, SyscallRewrite: true},
		"":        {},
	} {
		if got := FeaturesOf(v); got != want {
			t.Errorf("FeaturesOf(%q) = %+v, want %+v", v, got, want)
		}
	}
}

// Beside a stripped Go executable's return probes (which make the runner
// give bpftrace --unsafe), every attach point of the user's that --unsafe
// would loosen is refused: bpftrace would only warn about it, and an int3
// inside an instruction can crash the traced process. Without the runner's
// --unsafe, bpftrace judges them itself.
func TestComposeRefusesWhatItsUnsafeWouldLoosen(t *testing.T) {
	traceable := func() (map[string]bool, error) { return map[string]bool{"vfs_read": true}, nil }
	unknown := func() (map[string]bool, error) {
		return nil, errors.New("reading available_filter_functions: permission denied")
	}
	for _, c := range []struct {
		point     string
		traceable func() (map[string]bool, error)
		why       string // "" when accepted
	}{
		{`uprobe:/bin/x:0x1169`, nil, "raw address"},
		{`uprobe:/bin/x:4457`, nil, "raw address"},
		{`u:/bin/x:0X1169`, nil, "raw address"},
		{`uretprobe:/bin/x:0x10`, nil, "raw address"},
		{`uprobe:/bin/x:work+2`, nil, "not proven to be an instruction boundary"},
		{`uprobe:/bin/x:"work"+0x2`, nil, "not proven to be an instruction boundary"},
		{`kprobe:0xffffffff81000000`, traceable, "by address"},
		{`kprobe:vfs_read+3`, traceable, "offset"},
		{`kprobe:vfs_write`, traceable, "not in the kernel's traceable functions"},
		{`kretprobe:vfs_read`, unknown, "permission denied"},
		{`kprobe:vfs_*`, traceable, "wildcard"},
		{`kprobe:vfs_read`, traceable, ""},
		{`uprobe:/bin/x:work`, nil, ""},
		{`uprobe:/bin/x:"work"+0`, nil, ""},
		{`tracepoint:syscalls:sys_enter_read`, nil, ""},
		{`watchpoint:0x10000000:8:w`, nil, ""}, // bpftrace takes it without --unsafe
	} {
		t.Run(c.point, func(t *testing.T) {
			src := c.point + " { @n = count(); }\nur:/app/stripped:main.counterValue { @r = count(); }"
			got, err := Compose(src, ComposeOptions{Features: FeaturesOf("0.27.1"), TraceableFunctions: c.traceable}, fakeBinaries{})
			switch {
			case c.why == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.why == "" && (!hasArg(got.Args, "--unsafe") || strings.Join(got.OwnOffsetPoints, " ") != "uprobe:/app/stripped:4112 uprobe:/app/stripped:4132"):
				t.Fatalf("the runner's own probes lost their --unsafe (%q) or their names (%q)", got.Args, got.OwnOffsetPoints)
			case c.why != "" && (!errors.Is(err, ErrUnsafeRide) || !strings.Contains(err.Error(), c.why)):
				t.Fatalf("composed with the runner's --unsafe (%v), want a refusal saying %q", err, c.why)
			}
			if _, err := Compose(c.point+" { @n = count(); }\nur:/app/server:main.counterValue { @r = count(); }", ComposeOptions{Features: FeaturesOf("0.27.1")}, fakeBinaries{}); err != nil {
				t.Fatalf("without --unsafe the runner leaves the judgement to bpftrace: %v", err)
			}
		})
	}
}

// A tool file's #! line is no preprocessor line: nothing to refuse.
func TestComposeShebang(t *testing.T) {
	src := "#!/usr/bin/bpftrace\nur:/app/stripped:main.counterValue { @r = count(); }"
	if _, err := Compose(src, ComposeOptions{Features: FeaturesOf("0.27.1")}, fakeBinaries{}); err != nil {
		t.Fatalf("refused a #! line: %v", err)
	}
}
