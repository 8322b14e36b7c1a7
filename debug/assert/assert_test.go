package assert

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/trace-debug/kubectl-trace-debug/bpf/mapmerge"
)

// The fixtures are bpftrace 0.27.1's own output of mapmerge's test program
// (every aggregation; A and B are two halves of its events, as two pods).
func fixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../../bpf/mapmerge/testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// check compiles exprs against maps and checks them on d.
func check(t *testing.T, maps Maps, d *mapmerge.Dump, exprs ...string) []Result {
	t.Helper()
	set, err := Compile(exprs, maps)
	if err != nil {
		t.Fatalf("compile %q: %v", exprs, err)
	}
	return set.Check(d, 1)
}

type want struct {
	expr   string
	passed bool
	err    string // part of the reason it could not be decided
	seen   string // part of what it saw
}

func run(t *testing.T, maps Maps, d *mapmerge.Dump, cases []want) {
	t.Helper()
	for _, c := range cases {
		r := check(t, maps, d, c.expr)[0]
		if r.Passed != c.passed || (c.err == "") != (r.Err == "") || !strings.Contains(r.Err, c.err) {
			t.Errorf("%s: passed %v, err %q; want passed %v, err containing %q", c.expr, r.Passed, r.Err, c.passed, c.err)
		}
		if !strings.Contains(strings.Join(r.Seen, "; "), c.seen) {
			t.Errorf("%s: saw %q, want it to contain %q", c.expr, r.Seen, c.seen)
		}
	}
}

func TestEveryKindOnePod(t *testing.T) {
	program := fixture(t, "program.bt")
	maps := Maps(mapmerge.Kinds(program))
	d := mapmerge.ParseText(fixture(t, "A.txt"))
	run(t, maps, d, []want{
		{expr: `@c == 2`, passed: true, seen: "@c = 2"},
		{expr: `@c >= 3`, seen: "@c = 2"},
		{expr: `@c > 1.5 && @c < 2.5`, passed: true}, // numbers of either kind
		{expr: `@k["x, 1"] == 1 && size(@k) == 1 && "x, 1" in @k`, passed: true, seen: `@k = {"x, 1": 1}`},
		{expr: `@k["y, 2"] == 0`, passed: true}, // a count's key never written counted nothing
		{expr: `@s[1] == 5 && @s["1"] == 5 && @s[2] == 0`, passed: true, seen: "@s = {1: 5}"},
		{expr: `@mn == 3 && @mx == 7`, passed: true},
		{expr: `@st.count == 2 && @st.avg == 15 && @st.total == 30`, passed: true, seen: "@st = {count: 2, avg: 15, total: 30}"},
		{expr: `@st > 10 && @st == 15 && @st < 16`, passed: true}, // stats compares as its average
		{expr: `has(@st.count) && !has(@st.p99)`, passed: true},
		{expr: `16 > @st`, err: "no such overload"}, // CEL picks a comparison by its left operand
		{expr: `16 > @st.avg`, passed: true},
		{expr: `@h.count == 3 && @h.p50 == 1 && @h.p90 == 7 && @h.p99 == 7 && @h.max == 7`, passed: true, seen: "@h = {count: 3, p50: 1, p90: 7, p99: 7, max: 7}"},
		{expr: `@hk["a"].p99 == 2047`, passed: true},
		{expr: `@big.max == 8388607`, passed: true},
		{expr: `@l.p50 == 9`, passed: true},
		{expr: `@l.p99 < 1000`, err: "open-ended bucket [100, ...)"},
		{expr: `@h > 1`, err: "histogram, not a number"},
		{expr: `@h.p42 > 1`, err: "has no field p42"},
		{expr: `@k.all(key, @k[key] < 5)`, passed: true},
		{expr: `@st.avg > 100 || @c == 2`, passed: true},
	})
}

func TestMergedPods(t *testing.T) {
	program := fixture(t, "program.bt")
	kinds := mapmerge.Kinds(program)
	merged, perPod := mapmerge.Merge([]*mapmerge.Dump{mapmerge.ParseText(fixture(t, "A.txt")), mapmerge.ParseText(fixture(t, "B.txt"))}, kinds)
	if len(perPod) > 0 {
		t.Fatalf("maps left per pod: %v", perPod)
	}
	cases := []want{
		{expr: `@c == 3`, passed: true},
		{expr: `@k["x, 1"] == 2 && @k["y, 2"] == 1 && size(@k) == 2`, passed: true},
		{expr: `@s[1] == 11 && @s[2] == 1`, passed: true},
		{expr: `@mn == -2 && @mx == 7`, passed: true},
		{expr: `@st.count == 3 && @st.total == 33 && @st.avg == 11`, passed: true},
		{expr: `@h.count == 6 && @h.p50 == 7 && @h.p99 == 127`, passed: true},
		{expr: `@a.count == 3 && @a.avg == 5`, passed: true}, // an avg computed as stats (mapmerge.AvgAsStats)
	}
	run(t, Maps(kinds), merged, cases)
	// bpftrace's JSON of all the events in one tracer says the same.
	run(t, Maps(kinds), mapmerge.ParseJSON(fixture(t, "AB.json")), cases)
}

// Over several pods, a map that is no aggregation was not merged: an
// assertion on it says so rather than finding it empty.
func TestUnmergedMap(t *testing.T) {
	maps := Maps{"@last": mapmerge.Unknown, "@c": mapmerge.Count}
	set, err := Compile([]string{`@last > 0`, `@c == 2`}, maps)
	if err != nil {
		t.Fatal(err)
	}
	d := mapmerge.ParseText("@last: 7\n@c: 2\n")
	if r := set.Check(d, 1); !r[0].Passed || !r[1].Passed {
		t.Fatalf("one pod: %+v", r)
	}
	r := set.Check(d, 3)
	if r[0].Passed || !strings.Contains(r[0].Err, "@last is no aggregation") || !strings.Contains(r[0].Err, "across 3 pods") || !r[1].Passed {
		t.Fatalf("three pods: %+v", r)
	}
}

func TestUnwrittenMaps(t *testing.T) {
	maps := Maps{"@never": mapmerge.Count, "@total": mapmerge.Sum, "@low": mapmerge.Min, "@lat": mapmerge.Hist, "@st": mapmerge.Stats}
	for _, d := range []*mapmerge.Dump{nil, mapmerge.ParseText("")} {
		run(t, maps, d, []want{
			{expr: `@never == 0 && @total == 0 && size(@never) == 0`, passed: true, seen: "@never never written (0)"},
			{expr: `@never["main.handle"] == 0`, passed: true},
			{expr: `@never > 0`},
			{expr: `@low < 5`, err: "@low has no value: the trace never wrote it", seen: "@low never written (no value)"},
			{expr: `@lat.count == 0 && @st.count == 0`, passed: true},
			{expr: `@lat.p99 < 5`, err: "@lat has no p99"},
			{expr: `@lat["main.handle"].p99 < 5`, err: "@lat has no main.handle"},
			{expr: `size(@lat) == 0`, passed: true},
		})
	}
}

func TestKeyedByCommAndAvg(t *testing.T) {
	d := mapmerge.ParseText("@[server]: 5\n@[bash]: 2\n@t: 42\n@lat[main.handle]:\n[256, 512)             3 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n")
	maps := Maps{"@": mapmerge.Count, "@t": mapmerge.Avg, "@lat": mapmerge.Hist, "@gone": mapmerge.Max}
	run(t, maps, d, []want{
		{expr: `@["server"] < 1000 && @["bash"] == 2`, passed: true, seen: `@ = {"server": 5, "bash": 2}`},
		{expr: `@["@t"] == 0`, passed: true}, // @ in a string is no map
		{expr: `@t == 42`, passed: true},
		{expr: `@lat["main.handle"].p99 < 500`, err: "", passed: false, seen: "p99: 511"},
		{expr: `@lat["main.other"].p99 < 500`, err: `@lat[main.other] has no value`},
		{expr: `@gone > 1`, err: "@gone has no value"},
	})
	// A failed assertion's message names the expression and what it saw.
	r := check(t, maps, d, `@["server"] > 10`)[0]
	if msg := r.Message(); !strings.Contains(msg, `assertion @["server"] > 10 failed; saw @ = {"server": 5, "bash": 2}`) {
		t.Errorf("message %q", msg)
	}
}

func TestCompileRefuses(t *testing.T) {
	maps := Maps{"@calls": mapmerge.Count, "@errors": mapmerge.Count}
	for expr, want := range map[string]string{
		`@nope == 0`:              "reads map @nope, which the program does not declare (its maps: @calls, @errors)",
		`@calls >`:                "column 9",
		`@calls + 1`:              "not true or false",
		`calls == 0`:              "maps are written with @",
		``:                        "empty",
		`@calls == 0 && @errors(`: "column",
	} {
		_, err := Compile([]string{`@calls == 1`, expr}, maps)
		if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want ErrInvalid containing %q", expr, err, want)
		}
	}
	if _, err := Compile([]string{`@calls >= 3`, `@errors["main.counterValue"] == 0`}, maps); err != nil {
		t.Errorf("good assertions refused: %v", err)
	}
}

func TestRewriteKeepsColumns(t *testing.T) {
	for in, want := range map[string]string{
		`@calls == 1`:          `_calls == 1`,
		`@["x"] < 2`:           `_["x"] < 2`,
		`@a["@b"] + @c // @d`:  `_a["@b"] + _c // @d`,
		`@a['it\'s @x'] == @b`: `_a['it\'s @x'] == _b`,
		`@a["""@x"""] == 1`:    `_a["""@x"""] == 1`,
	} {
		got, _ := rewrite(in)
		if got != want {
			t.Errorf("rewrite(%q) = %q, want %q", in, got, want)
		}
	}
	_, refs := rewrite(`@a + @b + @a + @`)
	if strings.Join(refs, " ") != "@a @b @" {
		t.Errorf("refs %q", refs)
	}
}

// The keys an assertion reads by a literal are known before anything runs.
func TestLiteralKeys(t *testing.T) {
	set, err := Compile([]string{`@calls["main.a"] > 1 && @errors["main.b"] == 0 || size(@calls) == 2 && "main.c" in @calls && @calls[@x] == 1`},
		Maps{"@calls": mapmerge.Count, "@errors": mapmerge.Count, "@x": mapmerge.Unknown})
	if err != nil {
		t.Fatal(err)
	}
	got, whole := set.List[0].Keys, set.List[0].Whole
	if strings.Join(got["@calls"], ",") != "main.a" || strings.Join(got["@errors"], ",") != "main.b" || len(got) != 2 {
		t.Fatalf("keys %v, want @calls main.a and @errors main.b", got)
	}
	if !whole["@calls"] || whole["@errors"] || !whole["@x"] {
		t.Fatalf("read whole: %v, want @calls and @x (size, in, a computed key), not @errors", whole)
	}
}

// A stack-keyed map is read, in text and JSON alike, its keys the frames;
// a map of strings is no number, and an assertion on it cannot be decided,
// saying why, never reading 0.
func TestStacksAndUnreadable(t *testing.T) {
	text := mapmerge.ParseText("@[\n        main.f+1\n        main.main+20\n]: 3\n@[\n        main.g+4\n]: 1\n@s[sh, \n        main.f+1\n]: 2\n@str[sh]: x\n")
	json := mapmerge.ParseJSON(`{"type": "map", "data": {"@": {"\nmain.f+1\nmain.main+20\n": 3, "\nmain.g+4\n": 1}}}` + "\n" +
		`{"type": "map", "data": {"@s": {"sh,\nmain.f+1\n": 2}}}` + "\n" + `{"type": "map", "data": {"@str": {"sh": "x"}}}`)
	maps := Maps{"@": mapmerge.Count, "@s": mapmerge.Count, "@str": mapmerge.Unknown}
	for name, d := range map[string]*mapmerge.Dump{"text": text, "json": json} {
		set, err := Compile([]string{`size(@) == 2 && @["main.f+1\nmain.main+20"] == 3`, `@s["sh, main.f+1"] == 2`, `size(@) == 0`, `@str["sh"] == "x"`}, maps)
		if err != nil {
			t.Fatal(err)
		}
		r := set.Check(d, 1)
		if !r[0].Passed || !r[1].Passed || r[2].Passed || r[3].Passed || !strings.Contains(r[3].Err, `@str cannot be read: "x" is not a number`) {
			t.Errorf("%s: %+v", name, r)
		}
	}
}
