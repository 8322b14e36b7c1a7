package runner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trace-debug/kubectl-trace-debug/bpf/program"
	"github.com/trace-debug/kubectl-trace-debug/bpf/syscalls"
)

func TestRewriteSyscallWildcard(t *testing.T) {
	tps := map[uint32]string{0: "read", 1: "write", 4: "newstat"}
	lookup := func(kind string) string {
		return probeVar + ` = ` + namesMap(kind) + `[args.id]; if (` + probeVar + ` != "")`
	}
	fill := func(kind string) string {
		longest := len("tracepoint:syscalls:sys_" + kind + "_newstat")
		return `BEGIN { ` + namesMap(kind) + `[-1] = "` + strings.Repeat("x", longest) + `"; }`
	}
	for _, c := range []struct {
		name, src, want, fill, why string
	}{
		{
			name: "the seed's census",
			src:  `tracepoint:syscalls:sys_enter_* { @[probe] = count(); }`,
			want: `tracepoint:raw_syscalls:sys_enter { ` + lookup("enter") + ` { @[` + probeVar + `] = count(); } }`,
			fill: fill("enter"),
		},
		{
			name: "short form, predicate, the number and the return value",
			src:  `t:syscalls:sys_exit_* /comm == "x" && args.__syscall_nr > 0/ { @ret[probe, args->__syscall_nr] = sum(args.ret); }`,
			want: `tracepoint:raw_syscalls:sys_exit /comm == "x" && args.id > 0/ { ` + lookup("exit") + ` { @ret[` + probeVar + `, args.id] = sum(args.ret); } }`,
			fill: fill("exit"),
		},
		{name: "an argument by name", src: `tracepoint:syscalls:sys_enter_* { @[args.fd] = count(); }`, why: "args.fd"},
		{name: "enter has no ret", src: `tracepoint:syscalls:sys_enter_* { @[args.ret] = count(); }`, why: "args.ret"},
		{name: "probe in the predicate", src: `tracepoint:syscalls:sys_enter_* /probe != "x"/ { @ = count(); }`, why: "predicate"},
		{name: "not the whole wildcard", src: `tracepoint:syscalls:sys_enter_read* { @[probe] = count(); }`},
		{name: "two points", src: `tracepoint:syscalls:sys_enter_*, BEGIN { @[probe] = count(); }`},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := program.Parse(c.src)
			if err != nil {
				t.Fatal(err)
			}
			pr := p.Probes()[0]
			names, table, why := rewriteSyscallWildcard(pr, tps)
			if c.want != "" {
				kind := strings.TrimPrefix(strings.Fields(c.want)[0], "tracepoint:raw_syscalls:sys_")
				if names == nil || pr.String() != c.want || names[0].String() != c.fill || names[1].String() != "END { clear("+namesMap(kind)+"); }" {
					t.Fatalf("got %q\n%s\n%s\n%s\nwant\n%s\n%s", why, pr.String(), names[0], names[1], c.want, c.fill)
				}
				if table.Map != namesMap(kind) || len(table.Entries) != 3 || table.Entries[4] != "tracepoint:syscalls:sys_"+kind+"_newstat" {
					t.Fatalf("table %+v", table)
				}
				return
			}
			if names != nil || table != nil || pr.String() != c.src || (c.why == "") != (why == "") || !strings.Contains(why, c.why) {
				t.Fatalf("want it left as written (%q): %v %q %s", c.why, names, why, pr.String())
			}
		})
	}
	p, _ := program.Parse(`tracepoint:syscalls:sys_enter_* { @[probe] = count(); }`)
	if names, _, why := rewriteSyscallWildcard(p.Probes()[0], nil); names != nil || why == "" {
		t.Fatalf("without a syscall table: %v %q", names, why)
	}
}

func TestSyscallTracepoints(t *testing.T) {
	events := t.TempDir()
	mk := func(names ...string) {
		for _, n := range names {
			if err := os.MkdirAll(filepath.Join(events, "syscalls", n), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	mk("sys_enter_read", "sys_exit_read", "sys_enter_newstat", "sys_enter_umount", "enable")
	tps, err := SyscallTracepoints(events)
	if err != nil {
		t.Fatal(err)
	}
	names := syscalls.Names()
	for id, tp := range tps {
		if want := map[string]string{"read": "read", "stat": "newstat", "umount2": "umount"}[names[id]]; tp != want {
			t.Errorf("syscall %d (%s) has tracepoint %q, want %q", id, names[id], tp, want)
		}
	}
	if len(tps) != 3 {
		t.Fatalf("got %v", tps)
	}
	mk("sys_enter_frobnicate")
	if _, err := SyscallTracepoints(events); err == nil || !strings.Contains(err.Error(), "frobnicate") {
		t.Fatalf("a tracepoint of no known number: %v", err)
	}
}

// sys_enter_* and sys_exit_* in one program read maps of their own (their
// names differ); a second probe of a kind shares its map; the dump probe
// prints neither.
func TestComposeBothSyscallWildcards(t *testing.T) {
	tps := map[uint32]string{0: "read"}
	src := "tracepoint:syscalls:sys_enter_* { @in[probe] = count(); }\ntracepoint:syscalls:sys_exit_* { @out[probe] = count(); }\nt:syscalls:sys_enter_* { @again = count(); }"
	c, err := Compose(src, ComposeOptions{Features: FeaturesOf("0.27.1"), Syscalls: tps, Marker: "M"}, fakeBinaries{})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Tables) != 2 || c.Tables[0].Entries[0] != "tracepoint:syscalls:sys_enter_read" || c.Tables[1].Entries[0] != "tracepoint:syscalls:sys_exit_read" ||
		c.Tables[0].kernelName() == c.Tables[1].kernelName() {
		t.Fatalf("tables %+v", c.Tables)
	}
	if c.Added != 5 || strings.Count(c.Program, "BEGIN {") != 2 || strings.Count(c.Program, "clear(@__td_") != 2 {
		t.Fatalf("added %d\n%s", c.Added, c.Program)
	}
	if !strings.Contains(c.Program, `print(@again); print(@in); print(@out); printf("M\n")`) {
		t.Fatalf("dump probe:\n%s", c.Program)
	}
}
