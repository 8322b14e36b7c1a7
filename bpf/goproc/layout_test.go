package goproc

import (
	"path/filepath"
	"testing"

	"github.com/trace-debug/kubectl-trace-debug/internal/testgo"
)

// The layout table is what each supported release's toolchain says of its
// runtime: a program built by each, its DWARF read.
func TestLayoutsAreTheToolchains(t *testing.T) {
	if testing.Short() {
		t.Skip("builds with every supported toolchain")
	}
	for _, tc := range testgo.Toolchains {
		exe, err := testgo.BuildWith(filepath.Join(t.TempDir(), tc), tc, "package main\n\nfunc main() {}\n")
		if err != nil {
			t.Fatal(err)
		}
		got, err := LayoutFromDWARF(exe)
		if err != nil {
			t.Fatalf("%s: %v", tc, err)
		}
		want, err := LayoutFor(tc)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s: the table says %+v, its DWARF %+v: run go generate ./bpf/goproc", tc, want, got)
		}
	}
	if _, err := LayoutFor("go1.20.14"); err == nil {
		t.Error("an unsupported release has no layout")
	}
}

func TestRelease(t *testing.T) {
	for in, want := range map[string]string{"go1.21.13": "go1.21", "go1.27.3 X:boringcrypto": "go1.27", "go1.27rc1": "go1.27", "devel": "devel"} {
		if got := Release(in); got != want {
			t.Errorf("Release(%q) = %q, want %q", in, got, want)
		}
	}
}
