package gofunc

import (
	"strings"
	"testing"
	"time"
)

func TestResults(t *testing.T) {
	str := [64]byte{}
	copy(str[:], "hello, world")
	for _, c := range []struct {
		name    string
		types   []string
		regs    [9]uint64
		want    string
		errored bool
	}{
		{"int and nil error", []string{"int", "error"}, [9]uint64{42}, "42|nil", false},
		{"negative int and error", []string{"int", "error"}, [9]uint64{^uint64(1), 0x1000, 0x2000}, "-2|non-nil", true},
		{"string as text", []string{"string"}, [9]uint64{0xc000, 5}, `"hello"`, false},
		{"long string truncated", []string{"string"}, [9]uint64{0xc000, 100}, `"hello, world` + strings.Repeat(`\x00`, 52) + `"...`, false},
		{"second string by length", []string{"int", "string"}, [9]uint64{1, 0xc000, 7}, "1|string(len 7)", false},
		{"bool, int32, pointer", []string{"bool", "int32", "*main.T"}, [9]uint64{1, 0xffffffff, 0xc0ffee}, "true|-1|0xc0ffee", false},
		{"slice", []string{"[]uint8"}, [9]uint64{0xc000, 3, 8}, "[]uint8(len 3)", false},
		{"float stops decoding", []string{"float64", "int"}, [9]uint64{}, "?|?", false},
		{"no DWARF: first register", nil, [9]uint64{0x2a}, "0x2a", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			call := Call{Func: &Func{Name: "f", Results: c.types}, Regs: c.regs, Str: str}
			got, errored := call.Results()
			if strings.Join(got, "|") != c.want || errored != c.errored {
				t.Fatalf("Results = %q, errored %v; want %q, %v", strings.Join(got, "|"), errored, c.want, c.errored)
			}
		})
	}
}

func TestSummary(t *testing.T) {
	var s Summary
	f := &Func{Name: "main.f"}
	for _, d := range []time.Duration{500 * time.Nanosecond, 3 * time.Microsecond, 3 * time.Microsecond, 40 * time.Microsecond} {
		s.Add(Call{Func: f, Duration: d}, d > 10*time.Microsecond)
	}
	names, stats := s.Funcs()
	if len(names) != 1 || stats["main.f"].Calls != 4 || stats["main.f"].Errors != 1 {
		t.Fatalf("stats %+v", stats["main.f"])
	}
	want := []Bucket{{0, 0, 1}, {2, 3, 2}, {32, 63, 1}} // bpftrace's JSON: max included
	got := stats["main.f"].Buckets()
	if len(got) != len(want) {
		t.Fatalf("buckets %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("buckets %v, want %v", got, want)
		}
	}
	if text := s.Text(); !strings.Contains(text, "@calls[main.f]: 4") || !strings.Contains(text, "[2, 4)") {
		t.Fatalf("text summary:\n%s", text)
	}
}

// @errors counts only where a failed call can be told: a function whose
// last result is an error, by DWARF or as declared; the others are left
// out of it, never counted 0.
func TestErrorsSeen(t *testing.T) {
	for _, c := range []struct {
		results []string
		seen    bool
		why     string
	}{
		{[]string{"int", "error"}, true, ""},
		{[]string{"error"}, true, ""},
		{[]string{"int"}, false, "the last result of main.f is int, not an error"},
		{[]string{}, false, "returns nothing"},
		{nil, false, "--func 'main.f=TYPES'"},
	} {
		f := &Func{Name: "main.f", Results: c.results}
		seen, why := f.ErrorsSeen()
		if seen != c.seen || !strings.Contains(why, c.why) {
			t.Errorf("%q: seen %v (%s), want %v (%s)", c.results, seen, why, c.seen, c.why)
		}
		var s Summary
		s.Add(Call{Func: f}, false)
		if text := s.Text(); strings.Contains(text, "@errors") != c.seen {
			t.Errorf("%q: summary with @errors %v, want %v:\n%s", c.results, !c.seen, c.seen, text)
		}
	}
}
