package runner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeTarget lays out a target's /proc/7 under a temporary procRoot: a
// merged-/usr root whose /bin is a relative link and /lib64 an absolute one,
// bash, libc mapped, libssl on disk only, and a PATH.
func fakeTarget(t *testing.T) TargetFiles {
	proc := t.TempDir()
	root := filepath.Join(proc, "7", "root")
	for _, f := range []string{"usr/bin/bash", "usr/lib/x86_64-linux-gnu/libc.so.6", "usr/lib/x86_64-linux-gnu/libssl.so.3", "opt/app/bin/server", "usr/lib64/ld.so"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, f), []byte("\x7fELF"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// libssl.so is a linker script, not the library.
	if err := os.WriteFile(filepath.Join(root, "usr/lib/x86_64-linux-gnu/libssl.so"), []byte("INPUT(libssl.so.3)"), 0o644); err != nil {
		t.Fatal(err)
	}
	for link, to := range map[string]string{"bin": "usr/bin", "lib": "usr/lib", "lib64": "/usr/lib64"} {
		if err := os.Symlink(to, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	maps := "7f00-7f10 r-xp 00000000 08:01 12 /usr/lib/x86_64-linux-gnu/libc.so.6\n7f10-7f20 rw-p 00000000 00:00 0 [heap]\n"
	if err := os.WriteFile(filepath.Join(proc, "7", "maps"), []byte(maps), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(proc, "7", "environ"), []byte("HOME=/\x00PATH=/opt/app/bin:/usr/bin\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	return TargetFiles{ProcRoot: proc, PID: 7}
}

func TestTargetFiles(t *testing.T) {
	f := fakeTarget(t)
	root := f.Root()
	for _, c := range []struct {
		point, want, why string
	}{
		{"uretprobe:/bin/bash:readline", "uretprobe:" + root + "/usr/bin/bash:readline", ""},
		{"uprobe:libc:getaddrinfo", "uprobe:" + root + "/usr/lib/x86_64-linux-gnu/libc.so.6:getaddrinfo", ""},
		{"uprobe:libssl:SSL_read", "uprobe:" + root + "/usr/lib/x86_64-linux-gnu/libssl.so.3:SSL_read", ""},
		{"uprobe:/lib64/ld.so:f", "uprobe:" + root + "/usr/lib64/ld.so:f", ""},
		{"uprobe:server:main.f", "uprobe:" + root + "/opt/app/bin/server:main.f", ""},
		{`uprobe:"/bin/bash":"readline"+8`, `uprobe:"` + root + `/usr/bin/bash":"readline"+8`, ""},
		{"usdt:/bin/bash:ns:probe", "usdt:" + root + "/usr/bin/bash:ns:probe", ""},
		{"uprobe:libc@malloc.c:3538", "uprobe:" + root + "/usr/lib/x86_64-linux-gnu/libc.so.6@malloc.c:3538", ""},
		{"uprobe:/usr/lib/*/libc.so.6:f", "uprobe:" + root + "/usr/lib/*/libc.so.6:f", ""},
		{"uretprobe:libreadline:readline", "uretprobe:" + root + "/libreadline:readline", "has no libreadline mapped and its root (" + root + ") has no libreadline.so*"},
		{"uprobe:/bin/zsh:zleread", "uprobe:" + root + "/usr/bin/zsh:zleread", "the target's root (" + root + ") has no /bin/zsh"},
		{"uprobe:/proc/7/root/app/server:f", "uprobe:/proc/7/root/app/server:f", ""},
		{"uprobe:*:f", "uprobe:*:f", ""},
		{"tracepoint:syscalls:sys_enter_openat", "tracepoint:syscalls:sys_enter_openat", ""},
		{"usdt:probe", "usdt:probe", ""},
	} {
		got, why := inTarget(c.point, f)
		if got != c.want || (c.why == "") != (why == "") || !strings.Contains(why, c.why) {
			t.Errorf("inTarget(%q) = %q, %q; want %q, %q", c.point, got, why, c.want, c.why)
		}
	}
}

// A file the target lacks is skipped where the program says missing_probes
// = ignore (bpftrace would fail on it, not skip it), and kept, for bpftrace
// to name, where it does not.
func TestComposeMissingFiles(t *testing.T) {
	f := fakeTarget(t)
	root := f.Root()
	const probes = "uretprobe:/bin/bash:readline,\nuretprobe:libreadline:readline\n/comm == \"bash\"/\n{ printf(\"%s\\n\", str(retval)); }"
	for _, c := range []struct{ config, want string }{
		{"config = { missing_probes = ignore; }\n", "uretprobe:" + root + "/usr/bin/bash:readline /comm == \"bash\"/"},
		{"", "uretprobe:" + root + "/usr/bin/bash:readline, uretprobe:" + root + "/libreadline:readline /comm == \"bash\"/"},
	} {
		got, err := Compose(c.config+probes, ComposeOptions{Features: FeaturesOf("0.27.1"), Files: f}, fakeBinaries{})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(got.Program, c.want) || !strings.Contains(strings.Join(got.Notes, "\n"), "no libreadline") {
			t.Errorf("config %q:\n%s\nnotes %q", c.config, got.Program, got.Notes)
		}
	}
	got, _ := Compose("config = { missing_probes = ignore; }\nuprobe:libreadline:readline { @n = count(); }\nBEGIN { exit(); }", ComposeOptions{Features: FeaturesOf("0.27.1"), Files: f}, fakeBinaries{})
	if strings.Contains(got.Program, "readline") {
		t.Errorf("a probe whose every file is missing is dropped:\n%s", got.Program)
	}
}
