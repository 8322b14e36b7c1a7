package mapmerge

import (
	"os"
	"strings"
	"testing"
)

// The fixtures are bpftrace 0.27.1's own output (testdata/program.bt's
// events: A.* the first half, B.* the second, AB.* all of them in one
// tracer), so merging A and B must give AB exactly.
func fixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestKinds(t *testing.T) {
	got := Kinds(fixture(t, "program.bt"))
	want := map[string]Kind{"@c": Count, "@k": Count, "@s": Sum, "@mn": Min, "@mx": Max, "@st": Stats, "@h": Hist, "@l": Lhist, "@hk": Hist, "@big": Hist, "@a": Stats}
	for name, k := range want {
		if got[name] != k {
			t.Errorf("kind of %s = %v, want %v", name, got[name], k)
		}
	}
	for program, want := range map[string]map[string]Kind{
		`k:f { @[probe] = count(); }`:                        {"@": Count},
		`k:f { @n++; @m[comm] += arg0; ++@o; }`:              {"@n": Sum, "@m": Sum, "@o": Sum},
		`k:f { @x = count(); } k:g { @x = sum(1); }`:         {"@x": Unknown},
		`k:f { @v = 5; @w[1] = "s"; @t = avg(arg0); }`:       {"@v": Unknown, "@w": Unknown, "@t": Avg},
		`k:f /@seen[tid] == 1/ { @lat = hist(nsecs - @s); }`: {"@lat": Hist},
		// A macro's @m is its parameter: the map passed in is what it writes.
		"macro hit(@m) { @m = count() }\nuprobe:/bin/x:f { hit(@calls); }":                                             {"@calls": Count, "@m": Unknown},
		"macro in(@a, $v) { @a = sum($v) }\nmacro out(@b) { in(@b, 2) }\nk:f { out(@x); @y[1] = lhist(1, 0, 10, 1); }": {"@x": Sum, "@y": Lhist, "@a": Unknown, "@b": Unknown},
		// Strings and comments are not code.
		`k:f { printf("@s = count(\n"); /* @c = hist(1) */ @n[comm, "]"] = max(1); }`: {"@n": Max, "@s": Unknown, "@c": Unknown},
	} {
		got := Kinds(program)
		for name, k := range want {
			if got[name] != k {
				t.Errorf("%s: kind of %s = %v, want %v", program, name, got[name], k)
			}
		}
	}
}

func TestTextRoundTrip(t *testing.T) {
	kinds := Kinds(fixture(t, "program.bt"))
	for _, name := range []string{"A.txt", "B.txt", "AB.txt"} {
		in := fixture(t, name)
		d := ParseText(in)
		if len(d.Other) > 0 {
			t.Fatalf("%s: lines not read as maps: %q", name, d.Other)
		}
		var out strings.Builder
		merged, perPod := Merge([]*Dump{d}, kinds)
		if len(perPod) > 0 {
			t.Fatalf("%s: maps left per pod: %v", name, perPod)
		}
		if err := WriteText(&out, merged, kinds); err != nil {
			t.Fatal(err)
		}
		if want := strings.TrimLeft(in, "\n"); out.String() != want {
			t.Fatalf("%s: written back differently:\n%s\nwant:\n%s", name, out.String(), want)
		}
	}
}

func TestMergeText(t *testing.T) {
	kinds := Kinds(fixture(t, "program.bt"))
	merged, perPod := Merge([]*Dump{ParseText(fixture(t, "A.txt")), ParseText(fixture(t, "B.txt"))}, kinds)
	var out strings.Builder
	if err := WriteText(&out, merged, kinds); err != nil || len(perPod) > 0 {
		t.Fatal(err, perPod)
	}
	if want := strings.TrimLeft(fixture(t, "AB.txt"), "\n"); out.String() != want {
		t.Fatalf("A + B:\n%s\nwant (one tracer seeing both):\n%s", out.String(), want)
	}
}

func TestJSONRoundTripAndMerge(t *testing.T) {
	kinds := Kinds(fixture(t, "program.bt"))
	for _, name := range []string{"A.json", "B.json", "AB.json"} {
		in := fixture(t, name)
		d := ParseJSON(in)
		if len(d.Other) > 0 {
			t.Fatalf("%s: lines not read as maps: %q", name, d.Other)
		}
		merged, _ := Merge([]*Dump{d}, kinds)
		var out strings.Builder
		if err := WriteJSON(&out, merged, kinds); err != nil {
			t.Fatal(err)
		}
		if out.String() != in {
			t.Fatalf("%s: written back differently:\n%s\nwant:\n%s", name, out.String(), in)
		}
	}
	merged, _ := Merge([]*Dump{ParseJSON(fixture(t, "A.json")), ParseJSON(fixture(t, "B.json"))}, kinds)
	var out strings.Builder
	if err := WriteJSON(&out, merged, kinds); err != nil {
		t.Fatal(err)
	}
	if want := fixture(t, "AB.json"); out.String() != want {
		t.Fatalf("A + B:\n%s\nwant (one tracer seeing both):\n%s", out.String(), want)
	}
}

// Maps that cannot be merged are named for printing per pod; the others
// still merge.
func TestMergeLeavesWhatItCannot(t *testing.T) {
	kinds := Kinds(`k:f { @calls = count(); @last = arg0; }`)
	a := ParseText("@calls: 2\n@last: 7\n")
	b := ParseText("@calls: 3\n@last: 1\nsome line\n")
	merged, perPod := Merge([]*Dump{a, b}, kinds)
	var out strings.Builder
	_ = WriteText(&out, merged, kinds)
	if out.String() != "@calls: 5\n" || strings.Join(perPod, ",") != "@last" || strings.Join(b.Other, ",") != "some line" || strings.Join(b.Raw["@last"], ",") != "@last: 1" {
		t.Fatalf("merged %q, per pod %v, other %v", out.String(), perPod, b.Other)
	}
}

// An average merges exactly once the program computes it as stats: the
// merged average is the total over the count, not the mean of averages.
func TestAvgAsStats(t *testing.T) {
	program := `k:f { @lat[comm] = avg(arg0); @n = count(); @s = stats(arg1); }`
	if got, want := AvgAsStats(program), `k:f { @lat[comm] = stats(arg0); @n = count(); @s = stats(arg1); }`; got != want {
		t.Fatalf("AvgAsStats = %q, want %q", got, want)
	}
	// In a macro too, and only for maps that are averages throughout.
	macro := "macro lat(@m, $v) { @m = avg($v) }\nk:f { lat(@a, arg0); lat(@b, arg1); } k:g { @b = count(); printf(\"avg(\"); }"
	if got, want := AvgAsStats(macro), "macro lat(@m, $v) { @m = stats($v) }\nk:f { lat(@a, arg0); lat(@b, arg1); } k:g { @b = count(); printf(\"avg(\"); }"; got != want {
		t.Fatalf("AvgAsStats in a macro = %q, want %q", got, want)
	}
	kinds := Kinds(program)
	a := ParseText("@lat[a]: { .count = 1, .average = 10, .total = 10 }\n")
	b := ParseText("@lat[a]: { .count = 3, .average = 2, .total = 6 }\n@lat[b]: { .count = 1, .average = 1, .total = 1 }\n")
	merged, perPod := Merge([]*Dump{a, b}, kinds)
	var text, js strings.Builder
	_ = WriteText(&text, merged, kinds)
	_ = WriteJSON(&js, merged, kinds)
	if text.String() != "@lat[b]: 1\n@lat[a]: 4\n" || len(perPod) > 0 {
		t.Fatalf("merged averages: %q (per pod %v), want (10+6)/4 = 4", text.String(), perPod)
	}
	if js.String() != `{"type": "stats", "data": {"@lat": {"b": 1, "a": 4}}}`+"\n" {
		t.Fatalf("merged averages in JSON: %q", js.String())
	}
}

// Stack-keyed maps (a key over several lines, as bpftrace 0.27.1 prints
// @[ustack] and @s[comm, ustack]) are read, written back as printed, and
// merged across pods.
func TestStackKeys(t *testing.T) {
	a := "@[\n        __strpbrk_sse42+23\n        0x5556870228c0\n]: 1\n@[\n        __sigsetjmp+53\n]: 2\n" +
		"@s[sh, \n        0x55568700f165\n]: 1\n@h[\n        main.f+1\n]:\n[4, 8)                 1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\n"
	b := "@[\n        __sigsetjmp+53\n]: 3\n"
	kinds := Kinds(`profile:hz:99 { @[ustack(3)] = count(); @s[comm, ustack(2)] = count(); @h[ustack(1)] = hist(5); }`)
	da, db := ParseText(a), ParseText(b)
	if len(da.Other) > 0 || len(da.Maps) != 3 || len(da.Maps[0].Keys) != 2 || da.Maps[0].Keys[1] != "\n        __sigsetjmp+53\n" {
		t.Fatalf("read %+v, other %q", da.Maps, da.Other)
	}
	var out strings.Builder
	if err := WriteText(&out, da, kinds); err != nil || out.String() != a {
		t.Fatalf("written back (%v):\n%s\nwant:\n%s", err, out.String(), a)
	}
	merged, perPod := Merge([]*Dump{da, db}, kinds)
	m := merged.Maps[0]
	if len(perPod) > 0 || len(m.Keys) != 2 || m.Entries["\n        __sigsetjmp+53\n"].N != 5 {
		t.Fatalf("merged %+v (per pod %v)", m, perPod)
	}
}

// A value that is no number (a string, a tuple, a number past int64) makes
// its map unreadable, saying why, in text and JSON alike: never a 0, never
// left out.
func TestUnreadableValues(t *testing.T) {
	for _, c := range []struct {
		dump *Dump
		map_ string
		why  string
	}{
		{ParseText("@str[sh]: x\n"), "@str", `"x" is not a number`},
		{ParseText("@t: (1, a)\n"), "@t", `"(1, a)" is not a number`},
		{ParseText("@big: 18446744073709551615\n"), "@big", "past the largest signed 64-bit number"},
		{ParseJSON(`{"type": "map", "data": {"@str": {"sh": "x"}}}`), "@str", `"x" is not a number`},
		{ParseJSON(`{"type": "map", "data": {"@t": [1,"a"]}}`), "@t", `[1,"a"] is not a number`},
		{ParseJSON(`{"type": "map", "data": {"@big": "18446744073709551615"}}`), "@big", "past the largest signed 64-bit number"},
	} {
		if len(c.dump.Maps) != 1 || c.dump.Maps[0].Name != c.map_ || !strings.Contains(c.dump.Maps[0].Unreadable, c.why) {
			t.Errorf("%s: maps %+v, other %q; want it unreadable saying %q", c.map_, c.dump.Maps, c.dump.Other, c.why)
			continue
		}
		if _, perPod := Merge([]*Dump{c.dump}, map[string]Kind{c.map_: Sum}); len(perPod) != 1 {
			t.Errorf("%s: an unreadable map was merged", c.map_)
		}
	}
	// A string that is a number is one (bpftrace's JSON writes big unsigned values so).
	if d := ParseJSON(`{"type": "map", "data": {"@n": "42"}}`); len(d.Maps) != 1 || d.Maps[0].Unreadable != "" || d.Maps[0].Entries[""].N != 42 {
		t.Errorf("a number in a string: %+v", d.Maps)
	}
}
