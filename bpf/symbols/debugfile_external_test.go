//go:build external

package symbols

import (
	"debug/elf"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// A stripped file is named from its separate debug file where the
// process's root has one, found the ways gdb finds it: by build ID under
// /usr/lib/debug/.build-id, by .gnu_debuglink beside it (DIR/.debug) —
// Debian's libc6-dbg for its libc, objcopy's split for the test's own C;
// without the debug file, only what .dynsym names.
func TestDebugFileNames(t *testing.T) {
	dir := t.TempDir()
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	split := func(name string, ldflags ...string) (exe, debug string) {
		exe, debug = filepath.Join(dir, name), filepath.Join(dir, name+".debug")
		run(append([]string{"gcc", "-O2", "-o", exe, "../../images/callers/callers.c"}, ldflags...)...)
		run("objcopy", "--only-keep-debug", exe, debug)
		run("strip", "--strip-all", exe)
		run("objcopy", "--add-gnu-debuglink="+debug, exe)
		return exe, debug
	}
	install := func(root, at, from string) {
		t.Helper()
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, at)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, at), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	names := func(path, root, seenAs string) map[string]bool {
		t.Helper()
		tab, err := loadTable(path, root, seenAs)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for _, f := range tab.funcs {
			out[f.Name] = true
		}
		return out
	}

	byID, byIDDebug := split("by-id")
	f, err := elf.Open(byID)
	if err != nil {
		t.Fatal(err)
	}
	id := hex.EncodeToString(buildID(f))
	f.Close()
	rootID := t.TempDir()
	install(rootID, "/usr/lib/debug/.build-id/"+id[:2]+"/"+id[2:]+".debug", byIDDebug)
	byLink, byLinkDebug := split("by-link", "-Wl,--build-id=none")
	rootLink := t.TempDir()
	install(rootLink, "/opt/app/.debug/by-link.debug", byLinkDebug)
	empty := t.TempDir()

	for _, c := range []struct {
		name, path, root, seenAs, fn string
		want                         bool
	}{
		{"by build ID", byID, rootID, "/opt/app/by-id", "caller_a", true},
		{"by build ID, no debug file", byID, empty, "/opt/app/by-id", "caller_a", false},
		{"by .gnu_debuglink", byLink, rootLink, "/opt/app/by-link", "caller_a", true},
		{"by .gnu_debuglink, elsewhere", byLink, rootLink, "/srv/by-link", "caller_a", false},
		{"Debian's libc, libc6-dbg", "/lib/x86_64-linux-gnu/libc.so.6", "/", "/lib/x86_64-linux-gnu/libc.so.6", "__libc_start_call_main", true},
		{"Debian's libc, its .dynsym alone", "/lib/x86_64-linux-gnu/libc.so.6", empty, "/lib/x86_64-linux-gnu/libc.so.6", "__libc_start_call_main", false},
	} {
		if got := names(c.path, c.root, c.seenAs)[c.fn]; got != c.want {
			t.Errorf("%s: %s named %v, want %v", c.name, c.fn, got, c.want)
		}
	}
}
