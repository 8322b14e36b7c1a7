//go:build root

package gofunc

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// These tests load real eBPF programs: make test runs them as root (-tags root).

func TestTraceGoFunctions(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("gofunc tests load real eBPF programs: run them as root")
	}
	for _, c := range []struct {
		name     string
		stripped bool
		flags    []string
	}{
		{"symbols and DWARF", false, nil},
		{"stripped", true, nil},
		{"PIE", false, []string{"-buildmode=pie"}},
		{"PIE stripped", true, []string{"-buildmode=pie"}},
	} {
		stripped := c.stripped
		t.Run(c.name, func(t *testing.T) {
			exe := buildTarget(t, stripped, c.flags...)
			// main.next's results declared, as a stripped binary needs.
			funcs, err := Resolve(exe, []string{"main.next=int,error", "main.lab*"})
			if err != nil {
				t.Fatal(err)
			}
			if len(funcs) != 2 || funcs[0].Name != "main.next" || funcs[1].Name != "main.label" || len(funcs[0].Returns) == 0 {
				t.Fatalf("resolved %+v", funcs)
			}
			if stripped != (funcs[1].Results == nil) || stripped != funcs[0].Declared || strings.Join(funcs[0].Results, ",") != "int,error" {
				t.Fatalf("result types %v %v (declared %v): want DWARF's when not stripped, else the declared ones", funcs[0].Results, funcs[1].Results, funcs[0].Declared)
			}

			goAhead := filepath.Join(t.TempDir(), "go")
			cmd := exec.Command(exe, goAhead)
			var out strings.Builder
			cmd.Stdout = &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			tr, err := Start(exe, "/proc/"+strconv.Itoa(cmd.Process.Pid)+"/ns/pid", funcs)
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Close()
			if tr.Probes() < 4 {
				t.Fatalf("%d probes: want an entry and at least one RET per function", tr.Probes())
			}
			os.WriteFile(goAhead, nil, 0o644)
			if err := cmd.Wait(); err != nil {
				t.Fatalf("the traced program failed: %v\n%s", err, out.String())
			}
			want := "0 false item-0\n10 false item-1\n-2 true item-2\n30 false item-3\n40 false item-4\n-5 true item-5\n"
			if out.String() != want {
				t.Fatalf("the traced program's output changed:\n%s", out.String())
			}

			var nexts, labels []string
			var summary Summary
			for len(nexts)+len(labels) < 12 {
				call, err := nextWithin(tr, 5*time.Second)
				if err != nil {
					t.Fatalf("after %v %v: %v", nexts, labels, err)
				}
				res, errored := call.Results()
				summary.Add(call, errored)
				if call.Func.Name == "main.next" {
					nexts = append(nexts, strings.Join(res, " "))
				} else {
					labels = append(labels, strings.Join(res, " "))
				}
				if call.Duration <= 0 || call.Duration > time.Second {
					t.Fatalf("duration %v", call.Duration)
				}
			}
			wantNexts := "0 nil|10 nil|-2 non-nil|30 nil|40 nil|-5 non-nil"
			wantLabels := `"item-0"|"item-1"|"item-2"|"item-3"|"item-4"|"item-5"`
			if stripped {
				wantLabels = "" // raw registers only: pointers
			}
			if got := strings.Join(nexts, "|"); got != wantNexts {
				t.Fatalf("main.next returned %s, want %s", got, wantNexts)
			}
			if got := strings.Join(labels, "|"); wantLabels != "" && got != wantLabels {
				t.Fatalf("main.label returned %s, want %s", got, wantLabels)
			}
			_, stats := summary.Funcs()
			text := summary.Text()
			if stats["main.next"].Calls != 6 || stats["main.next"].Errors != 2 || !strings.Contains(text, "@errors[main.next]: 2") ||
				strings.Contains(text, "@errors[main.label]") || !strings.Contains(text, "@latency_us[main.next]") {
				t.Fatalf("summary %+v: want 2 errors of main.next, none of main.label (a string: no error to see)\n%s", stats["main.next"], text)
			}
		})
	}
}

func nextWithin(tr *Tracer, d time.Duration) (Call, error) {
	type res struct {
		c   Call
		err error
	}
	ch := make(chan res, 1)
	go func() { c, err := tr.Next(); ch <- res{c, err} }()
	select {
	case r := <-ch:
		return r.c, r.err
	case <-time.After(d):
		tr.reader.SetDeadline(time.Now())
		return Call{}, errors.New("no call within " + d.String())
	}
}

// Calls recorded before Detach are all read, then Next says so instead of
// blocking: a stop right after the last call loses none.
func TestDetachDrains(t *testing.T) {
	exe := buildTarget(t, false)
	funcs, err := Resolve(exe, []string{"main.next", "main.label"})
	if err != nil {
		t.Fatal(err)
	}
	goAhead := filepath.Join(t.TempDir(), "go")
	cmd := exec.Command(exe, goAhead)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	tr, err := Start(exe, "/proc/"+strconv.Itoa(cmd.Process.Pid)+"/ns/pid", funcs)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	os.WriteFile(goAhead, nil, 0o644)
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if err := tr.Detach(); err != nil { // nothing read yet: all 12 calls wait in the ring buffer
		t.Fatal(err)
	}
	calls := 0
	for {
		_, err := nextWithin(tr, 5*time.Second)
		if errors.Is(err, ErrDrained) {
			break
		}
		if err != nil {
			t.Fatalf("after %d calls: %v", calls, err)
		}
		calls++
	}
	if calls != 12 {
		t.Fatalf("drained %d calls, want 12", calls)
	}
}
