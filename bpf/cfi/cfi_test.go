package cfi

import (
	"bufio"
	"bytes"
	"debug/elf"
	"errors"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// Every row of the call-frame tables of real files — Debian's libc and the
// test's own C, built -O2 (.eh_frame) and built for .debug_frame alone —
// is the rule binutils' readelf interprets it as: the CFA's register and
// offset, where the return address and the caller's rbp are saved; rows
// whose CFA is an expression are refused, not guessed.
func TestRulesAreReadelfs(t *testing.T) {
	dir := t.TempDir()
	build := func(name string, flags ...string) string {
		out := filepath.Join(dir, name)
		args := append(append([]string{}, flags...), "-o", out, "../../images/callers/callers.c")
		if b, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
			t.Fatalf("gcc %v: %v\n%s", args, err, b)
		}
		return out
	}
	for _, c := range []struct {
		name, path string
	}{
		{"libc", "/lib/x86_64-linux-gnu/libc.so.6"},
		{"C -O2", build("o2", "-O2")},
		{"C .debug_frame", build("debugframe", "-O2", "-g", "-fno-asynchronous-unwind-tables", "-fno-unwind-tables")},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, err := elf.Open(c.path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			tab, err := Read(f)
			if err != nil {
				t.Fatal(err)
			}
			rows, sections := readelfRows(t, c.path)
			var checked, expr int
			for _, row := range rows {
				got, err := tab.RuleAt(row.loc)
				if row.cfaExpr {
					expr++
					if err == nil {
						t.Errorf("%#x: readelf's CFA is an expression, RuleAt gave %+v", row.loc, got)
					}
					continue
				}
				if err != nil {
					t.Errorf("%#x: %v (readelf: %+v)", row.loc, err, row.want)
					continue
				}
				if got != row.want {
					t.Errorf("%#x: rule %+v, readelf says %+v", row.loc, got, row.want)
				}
				checked++
			}
			t.Logf("%s: %d records; %d rows of %v held to readelf's, %d with an expression refused", c.name, tab.Len(), checked, sections, expr)
			if checked < 5 {
				t.Errorf("only %d rows checked", checked)
			}
			if _, err := tab.RuleAt(1); !errors.Is(err, ErrNoCFI) {
				t.Errorf("an address no record covers: %v, want ErrNoCFI", err)
			}
		})
	}
}

// row is one row of readelf's interpreted table.
type row struct {
	loc     uint64
	want    Rule
	cfaExpr bool
}

var (
	fdeLine = regexp.MustCompile(`FDE cie=\S+ pc=([0-9a-f]+)\.\.([0-9a-f]+)`)
	cfaRule = regexp.MustCompile(`^(rsp|rbp)\+(\d+)$`)
	saved   = regexp.MustCompile(`^c([+-]\d+)$`)
)

// readelfRows runs readelf --debug-dump=frames-interp on path and reads
// every row of every FDE (the registers it names: CFA, rbp, ra).
func readelfRows(t *testing.T, path string) ([]row, []string) {
	t.Helper()
	out, err := exec.Command("readelf", "--debug-dump=frames-interp", path).Output()
	if len(out) == 0 { // it exits 1 over a warning about another section, its table printed
		t.Fatalf("readelf: %v", err)
	}
	var rows []row
	var cols []string
	var sections []string
	inFDE := false
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		switch {
		case strings.HasPrefix(line, "Contents of the "):
			sections = append(sections, strings.Fields(line)[3])
		case fdeLine.MatchString(line):
			inFDE = true
		case strings.Contains(line, " CIE "):
			inFDE = false
		case len(f) > 1 && f[0] == "LOC" && f[1] == "CFA":
			cols = f
		case inFDE && len(f) == len(cols) && len(f) > 1:
			loc, err := strconv.ParseUint(f[0], 16, 64)
			if err != nil {
				continue
			}
			r := row{loc: loc}
			if m := cfaRule.FindStringSubmatch(f[1]); m != nil {
				r.want.CFAFromBP = m[1] == "rbp"
				r.want.CFAOffset, _ = strconv.ParseInt(m[2], 10, 64)
			} else {
				r.cfaExpr = true
			}
			raSeen := false
			for i, col := range cols[2:] {
				v := f[i+2]
				m := saved.FindStringSubmatch(v)
				switch col {
				case "ra":
					raSeen = true
					if m != nil {
						r.want.RAOffset, _ = strconv.ParseInt(m[1], 10, 64)
					} else if v == "u" {
						r.want.Outermost = true
					} else {
						r.cfaExpr = true // not one Step follows
					}
				case "rbp":
					if m != nil {
						r.want.BPSaved = true
						r.want.BPOffset, _ = strconv.ParseInt(m[1], 10, 64)
					} else if v != "u" && v != "s" {
						r.cfaExpr = true
					}
				}
			}
			if !raSeen {
				r.want.Outermost = true
			}
			rows = append(rows, r)
		}
	}
	return rows, sections
}

func TestStep(t *testing.T) {
	mem := map[uint64]uint64{0x1000: 0x2222, 0x1008: 0x401234, 0x2000: 0x3333, 0x2008: 0x405678}
	read := func(a uint64) (uint64, bool) { v, ok := mem[a]; return v, ok }
	for _, c := range []struct {
		name string
		rule Rule
		regs Regs
		want Regs
		ok   bool
	}{
		{"rsp-based, rbp saved (a pushing prologue)", Rule{CFAOffset: 16, RAOffset: -8, BPSaved: true, BPOffset: -16},
			Regs{PC: 0x400100, SP: 0x1000, BP: 0x9999}, Regs{PC: 0x401234, SP: 0x1010, BP: 0x2222}, true},
		{"rsp-based, rbp not touched (a frameless -O2 function)", Rule{CFAOffset: 16, RAOffset: -8},
			Regs{PC: 0x400100, SP: 0x1000, BP: 0x9999}, Regs{PC: 0x401234, SP: 0x1010, BP: 0x9999}, true},
		{"rbp-based (a frame-pointer function's body)", Rule{CFAFromBP: true, CFAOffset: 16, RAOffset: -8, BPSaved: true, BPOffset: -16},
			Regs{PC: 0x400100, SP: 0x1800, BP: 0x2000}, Regs{PC: 0x405678, SP: 0x2010, BP: 0x3333}, true},
		{"the return address beyond the copy", Rule{CFAOffset: 0x100, RAOffset: -8},
			Regs{PC: 0x400100, SP: 0x1000}, Regs{}, false},
	} {
		got, ok := c.rule.Step(c.regs, read)
		if got != c.want || ok != c.ok {
			t.Errorf("%s: Step = %+v, %v; want %+v, %v", c.name, got, ok, c.want, c.ok)
		}
	}
}
