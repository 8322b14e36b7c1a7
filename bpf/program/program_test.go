package program

import (
	"errors"
	"reflect"
	"strings"
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

func TestNamesAndImports(t *testing.T) {
	for _, c := range []struct {
		name, src     string
		has, hasNot   []string
		imports, maps []string
	}{
		{
			name:   "strings, comments, $variables and @maps are not names; fields are",
			src:    `BEGIN { printf("system(x)\n"); $system = 1; @system = 2; /* signal() */ } kprobe:f /x.override/ { exit(); } // write_user()`,
			has:    []string{"printf", "x", "override", "exit"},
			hasNot: []string{"system", "signal", "write_user"},
			maps:   []string{"@system"},
		},
		{
			name:   "macros, fn bodies, config, let and #define lines count; attach points do not",
			src:    "#define CMD system\nconfig = { max_map_keys = 9 }\nmacro m(@x) { @x = count(); signal(\"KILL\") }\nfn f(): int64 { __builtin_safe_mode; return 1; }\nlet @a = hash(2);\nuprobe:libc:getaddrinfo { m(@calls); }",
			has:    []string{"CMD", "system", "signal", "__builtin_safe_mode", "max_map_keys", "hash", "m", "define"},
			hasNot: []string{"uprobe", "libc", "getaddrinfo"},
			maps:   []string{"@a", "@calls"},
		},
		{
			name: "a character literal does not hide code from Names",
			src:  `BEGIN { $c = 'x'; system("id"); $d = 'y'; }`,
			has:  []string{"system"},
		},
		{
			name:    "imports and includes",
			src:     "#include <linux/sched.h>\nimport \"lib.bt\";\nBEGIN { exit(); }",
			imports: []string{"#include <linux/sched.h>", `import "lib.bt";`},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := Parse(c.src)
			if err != nil {
				t.Fatal(err)
			}
			names := map[string]bool{}
			for _, n := range p.Names() {
				names[n] = true
			}
			for _, n := range c.has {
				if !names[n] {
					t.Errorf("Names() lacks %q: %q", n, p.Names())
				}
			}
			for _, n := range c.hasNot {
				if names[n] {
					t.Errorf("Names() has %q: %q", n, p.Names())
				}
			}
			if !reflect.DeepEqual(p.Imports(), c.imports) {
				t.Errorf("Imports() = %q, want %q", p.Imports(), c.imports)
			}
			if c.maps != nil && !reflect.DeepEqual(p.Maps(), c.maps) {
				t.Errorf("Maps() = %q, want %q", p.Maps(), c.maps)
			}
			if p.String() != c.src {
				t.Errorf("written back as %q", p.String())
			}
		})
	}
}

func TestConfig(t *testing.T) {
	p, err := Parse("config = {\n  missing_probes = ignore;\n  max_map_keys = 9\n}\nBEGIN { exit(); }")
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Config("missing_probes"); got != "ignore" {
		t.Errorf("missing_probes = %q", got)
	}
	if got := p.Config("max_map_keys"); got != "9" {
		t.Errorf("max_map_keys = %q", got)
	}
	if got := p.Config("probes"); got != "" {
		t.Errorf("probes = %q", got)
	}
}

func TestAppendStatement(t *testing.T) {
	for _, c := range []struct{ body, want string }{
		{`{}`, "{\nS;\n}"},
		{`{ printf("x") }`, "{ printf(\"x\"); \nS;\n}"},
		{`{ printf("x"); }`, "{ printf(\"x\"); \nS;\n}"},
		{"{ @x = 1; // a comment }\n}", "{ @x = 1; // a comment }\n\nS;\n}"},
		{`{ if (1) { @x = 1 } /* c; */ }`, "{ if (1) { @x = 1 } /* c; */ \nS;\n}"},
		{`{ printf("}") }`, "{ printf(\"}\"); \nS;\n}"},
	} {
		p, err := Parse("END " + c.body)
		if err != nil {
			t.Fatal(err)
		}
		pr := p.Probes()[0]
		pr.AppendStatement("S;")
		if pr.Body != c.want || !strings.HasSuffix(p.String(), c.want) {
			t.Errorf("%q: body %q, want %q", c.body, pr.Body, c.want)
		}
	}
}
