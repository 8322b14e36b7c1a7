package program

import (
	"errors"
	"reflect"
	"testing"
)

func TestParse(t *testing.T) {
	type probe struct{ points, pred, body string }
	tests := []struct {
		name   string
		src    string
		probes []probe
		maps   []string
	}{
		{
			name:   "seed census",
			src:    `tracepoint:syscalls:sys_enter_* { @[probe] = count(); }`,
			probes: []probe{{"tracepoint:syscalls:sys_enter_*", "", "{ @[probe] = count(); }"}},
			maps:   []string{"@"},
		},
		{
			name:   "quoted Go symbol, path with slashes, predicate with division",
			src:    `uprobe:/proc/1/root/app/server:"main.counterValue" / $x / 2 > pid / { @calls = count(); }`,
			probes: []probe{{`uprobe:/proc/1/root/app/server:"main.counterValue"`, "$x / 2 > pid", "{ @calls = count(); }"}},
			maps:   []string{"@calls"},
		},
		{
			name: "several points, comments, strings with braces and @, nested blocks",
			src: `// count "opens" {
#include <linux/sched.h>
BEGIN { printf("go {@fake}\n"); }
kprobe:a, k:b,
  t:syscalls:sys_enter_openat /comm == "x}" && (1 < 2)/ /* c */ { if (1) { @opens[comm] = count(); } }
END { clear(@opens); }`,
			probes: []probe{
				{"BEGIN", "", `{ printf("go {@fake}\n"); }`},
				{"kprobe:a,k:b,t:syscalls:sys_enter_openat", `comm == "x}" && (1 < 2)`, "{ if (1) { @opens[comm] = count(); } }"},
				{"END", "", "{ clear(@opens); }"},
			},
			maps: []string{"@opens"},
		},
		{
			name: "config, struct, macro, fn and let kept as written",
			src: `config = { max_map_keys = 100 }
struct foo { int a; };
let @m = lruhash(10);
macro twice(x) { x * 2 }
fn f($a: int64): int64 { return $a; }
interval:s:1 { @m[1] = twice(1); exit(); }`,
			probes: []probe{{"interval:s:1", "", "{ @m[1] = twice(1); exit(); }"}},
			maps:   []string{"@m"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse(tt.src)
			if err != nil {
				t.Fatal(err)
			}
			var got []probe
			for _, pr := range p.Probes() {
				got = append(got, probe{joinPoints(pr.Points), pr.Predicate, pr.Body})
			}
			if !reflect.DeepEqual(got, tt.probes) {
				t.Errorf("probes:\n got %q\nwant %q", got, tt.probes)
			}
			if !reflect.DeepEqual(p.Maps(), tt.maps) {
				t.Errorf("maps: got %q, want %q", p.Maps(), tt.maps)
			}
			if p.String() != tt.src {
				t.Errorf("an unchanged program must be written back as it was:\n%s", p.String())
			}
		})
	}
}

func joinPoints(ps []string) string {
	s := ""
	for i, p := range ps {
		if i > 0 {
			s += ","
		}
		s += p
	}
	return s
}

func TestParseRefuses(t *testing.T) {
	for _, src := range []string{
		`kprobe:f { @x = 1;`,
		`kprobe:f /pid == 1 { }`,
		`kprobe:f`,
		`kprobe:f /pid/ exit();`,
	} {
		if _, err := Parse(src); !errors.Is(err, ErrSyntax) {
			t.Errorf("Parse(%q) = %v, want ErrSyntax", src, err)
		}
	}
}

func TestRewrite(t *testing.T) {
	p, err := Parse("BEGIN { @n = 0; }\nuretprobe:/x:\"main.f\" /retval > 0/ { printf(\"retval %d\\n\", retval); @r = $retval + retval; }\n")
	if err != nil {
		t.Fatal(err)
	}
	prs := p.Probes()
	ret := prs[1]
	if !ret.ReplaceIdent("retval", `reg("ax")`) {
		t.Fatal("retval not found")
	}
	ret.SetPoints([]string{`uprobe:/x:"main.f"+0x10`, `uprobe:/x:"main.f"+0x20`})
	ret.AndPredicate("pid == 1")
	p.Append(&Probe{Points: []string{"self:signal:SIGUSR1"}, Body: "{ print(@n); exit(); }"})
	want := "BEGIN { @n = 0; }\n" +
		`uprobe:/x:"main.f"+0x10, uprobe:/x:"main.f"+0x20 /(pid == 1) && (reg("ax") > 0)/ { printf("retval %d\n", reg("ax")); @r = $retval + reg("ax"); }` +
		"\n\nself:signal:SIGUSR1 { print(@n); exit(); }"
	if got := p.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}

	// Splitting a probe in two keeps both bodies and drops the original.
	p2, _ := Parse("BEGIN, kprobe:f { @x = count(); }")
	old := p2.Probes()[0]
	scoped := old.Copy([]string{"kprobe:f"})
	scoped.AndPredicate("S")
	p2.Replace(old, old.Copy([]string{"BEGIN"}), scoped)
	if got, want := p2.String(), "BEGIN { @x = count(); }\nkprobe:f /S/ { @x = count(); }"; got != want {
		t.Errorf("split: got %q, want %q", got, want)
	}
}

func TestProvider(t *testing.T) {
	for point, want := range map[string]string{
		"BEGIN": "begin", "t:syscalls:sys_enter_read": "tracepoint", "ur:/bin/bash:readline": "uretprobe",
		"uprobe:/x:\"a\"": "uprobe", "i:s:1": "interval", "self:signal:SIGUSR1": "self", "kfunc:vfs_read": "fentry",
	} {
		if got := Provider(point); got != want {
			t.Errorf("Provider(%q) = %q, want %q", point, got, want)
		}
	}
}

func TestUses(t *testing.T) {
	p, err := Parse(`BEGIN { printf("system(x)\n"); $system = 1; @system = 2; } kprobe:f /x.system/ { system("id"); }`)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Uses("system") || p.Uses("signal") {
		t.Fatalf("Uses(system) = %v, Uses(signal) = %v", p.Uses("system"), p.Uses("signal"))
	}
	q, _ := Parse(`BEGIN { printf("system(x)\n"); $system = 1; @system = 2; }`)
	if q.Uses("system") {
		t.Fatal("a string, a $variable and an @map are not uses of the builtin")
	}
}
