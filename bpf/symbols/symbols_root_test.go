//go:build root

package symbols

import (
	"bufio"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trace-debug/kubectl-trace-debug/internal/testgo"
)

// A Go executable's functions are named in a running process through its
// mappings, with symbols and stripped alike (.gopclntab), PIE too; a
// C library's from its symbols; an address in no file stays an address.
func TestProcessNames(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name  string
		flags []string
	}{
		{"symbols", nil},
		{"stripped", []string{"-ldflags=-s -w"}},
		{"stripped PIE", []string{"-ldflags=-s -w", "-buildmode=pie"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			// The same build with symbols tells where main.spin is.
			withSyms, err := testgo.Build(mkdir(t, dir, c.name+"-syms"), testgo.Spinner, c.flags[min(1, len(c.flags)):]...)
			if err != nil {
				t.Fatal(err)
			}
			exe, err := testgo.Build(mkdir(t, dir, c.name), testgo.Spinner, c.flags...)
			if err != nil {
				t.Fatal(err)
			}
			spin := symbol(t, withSyms, "main.spin")
			cmd := exec.Command(exe)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
			time.Sleep(100 * time.Millisecond)
			p, err := NewProcess("/proc", cmd.Process.Pid)
			if err != nil {
				t.Fatal(err)
			}
			base := loadBase(t, cmd.Process.Pid, exe)
			if got := p.Name(base + spin + 4); got != "main.spin" {
				t.Fatalf("Name(main.spin+4) = %q", got)
			}
			if got := p.Name(8); got != "0x8" {
				t.Fatalf("an address in no mapping: %q", got)
			}
		})
	}
}

func mkdir(t *testing.T, dir, name string) string {
	d := filepath.Join(dir, strings.ReplaceAll(name, " ", "-"))
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

// symbol is the address of a function in an executable's symbol table.
func symbol(t *testing.T, exe, name string) uint64 {
	t.Helper()
	f, err := elf.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, _ := f.Symbols()
	for _, s := range syms {
		if s.Name == name {
			return s.Value
		}
	}
	t.Fatalf("%s has no %s", exe, name)
	return 0
}

// loadBase is what a PIE executable's addresses are moved by when loaded
// (0 for a fixed one): its mapping of file offset 0 less the address the
// file gives that offset (Go links PIE at 0x400000 too).
func loadBase(t *testing.T, pid int, exe string) uint64 {
	t.Helper()
	f, err := elf.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Type != elf.ET_DYN {
		return 0
	}
	var vaddr0 uint64
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && p.Off == 0 {
			vaddr0 = p.Vaddr
		}
	}
	m, err := os.Open("/proc/" + strconv.Itoa(pid) + "/maps")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	sc := bufio.NewScanner(m)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 6 && fields[5] == exe && fields[2] == "00000000" {
			lo, _, _ := strings.Cut(fields[0], "-")
			a, _ := strconv.ParseUint(lo, 16, 64)
			return a - vaddr0
		}
	}
	t.Fatalf("no mapping of %s at offset 0", exe)
	return 0
}

func TestKernelNames(t *testing.T) {
	k, err := NewKernel("/proc/kallsyms")
	if err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open("/proc/kallsyms")
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 3 && fields[2] == "schedule" && strings.ContainsAny(fields[1], "tT") {
			a, _ := strconv.ParseUint(fields[0], 16, 64)
			if got := k.Name(a + 1); got != "schedule" {
				t.Fatalf("Name(schedule+1) = %q", got)
			}
			return
		}
	}
	t.Fatal("kallsyms has no schedule")
}

// A stripped shared library's functions are named from its dynamic
// symbols: getaddrinfo in the libc of a running sleep.
func TestSharedLibraryNames(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	time.Sleep(100 * time.Millisecond)
	var libc string
	m, _ := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/maps")
	for _, line := range strings.Split(string(m), "\n") {
		if f := strings.Fields(line); len(f) >= 6 && strings.Contains(filepath.Base(f[5]), "libc.so") {
			libc = f[5]
			break
		}
	}
	if libc == "" {
		t.Fatal("sleep maps no libc")
	}
	f, err := elf.Open(libc)
	if err != nil {
		t.Fatal(err)
	}
	syms, _ := f.DynamicSymbols()
	f.Close()
	byAddr := map[uint64][]string{}
	var addr uint64
	for _, s := range syms {
		byAddr[s.Value] = append(byAddr[s.Value], s.Name)
		if s.Name == "getaddrinfo" {
			addr = s.Value
		}
	}
	p, err := NewProcess("/proc", cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	got := p.Name(loadBase(t, cmd.Process.Pid, libc) + addr + 2)
	for _, n := range byAddr[addr] {
		if got == n {
			return
		}
	}
	t.Fatalf("Name(getaddrinfo+2) = %q, want one of %q", got, byAddr[addr])
}
