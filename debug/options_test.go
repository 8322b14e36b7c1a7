package debug

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
)

func genericStreams() genericiooptions.IOStreams {
	s, _, _, _ := genericiooptions.NewTestIOStreams()
	return s
}

// Releases refer to their runner images by digest, other builds by tag.
func TestImageRef(t *testing.T) {
	defer func(d, n string) { imageDigest, nativeImageDigest = d, n }(imageDigest, nativeImageDigest)
	imageDigest, nativeImageDigest = "", ""
	if got, want := NativeImage(), imageRepository+":"+version+"-native"; got != want {
		t.Errorf("NativeImage() = %q, want %q", got, want)
	}
	imageDigest, nativeImageDigest = "sha256:aa", "sha256:bb"
	if got, want := DefaultImage(), imageRepository+"@sha256:aa"; got != want {
		t.Errorf("DefaultImage() = %q, want %q", got, want)
	}
	if got, want := NativeImage(), imageRepository+"@sha256:bb"; got != want {
		t.Errorf("NativeImage() = %q, want %q", got, want)
	}
}

// Programs the runner could not take are refused before anything is sent;
// a large one travels on stdin, with only its head and hash in the pod.
func TestProgramLimits(t *testing.T) {
	for name, p := range map[string]string{
		"too large": strings.Repeat("x", protocol.MaxProgram+1),
		"NUL byte":  "BEGIN { }\x00",
		"not UTF-8": "BEGIN { printf(\"\xff\"); }",
	} {
		if err := validProgram(p); ExitCode(err) != ExitUsage {
			t.Errorf("%s: %v, want exit %d", name, err, ExitUsage)
		}
	}
	o := &TraceOptions{Program: "// " + strings.Repeat("c", 300<<10) + "\nBEGIN { exit(); }\n"}
	if err := validProgram(o.Program); err != nil {
		t.Fatalf("a 300 KiB program: %v", err)
	}
	s := o.request("web", false).Session
	if s.Program != "" || s.ProgramSize != len(o.Program) || len(strings.Join(s.Args(), " ")) > 1<<10 {
		t.Fatalf("the pod would carry the program: %d bytes of args", len(strings.Join(s.Args(), " ")))
	}
}

func TestValidate(t *testing.T) {
	valid := func() *TraceOptions {
		o := NewTraceOptions(genericStreams())
		o.Program = "BEGIN {}"
		return o
	}
	for _, c := range []struct {
		name   string
		mutate func(*TraceOptions)
		msg    string
	}{
		{"valid", func(*TraceOptions) {}, ""},
		{"no program", func(o *TraceOptions) { o.Program = "" }, "no program"},
		{"census alone is valid", func(o *TraceOptions) { o.Program = ""; o.Syscalls = true }, ""},
		{"census and program", func(o *TraceOptions) { o.Syscalls = true }, "give one of"},
		{"funcs alone is valid", func(o *TraceOptions) { o.Program = ""; o.Funcs = []string{"main.f"} }, ""},
		{"funcs and census", func(o *TraceOptions) { o.Program = ""; o.Syscalls = true; o.Funcs = []string{"main.f"} }, "give one of"},
		{"no image", func(o *TraceOptions) { o.Image = "" }, "--image"},
		{"negative duration", func(o *TraceOptions) { o.Duration = -1 }, "--duration"},
		{"no deadline", func(o *TraceOptions) { o.Deadline = 0 }, "--deadline must be positive"},
		{"detached output file", func(o *TraceOptions) { o.Detach = true; o.OutputFile = "x" }, "needs an attached session"},
		{"duration past deadline", func(o *TraceOptions) { o.Duration = 2 * o.Deadline }, "longer than --deadline"},
		{"-A without -l", func(o *TraceOptions) { o.AllNamespaces = true }, "goes with -l"},
		{"-A with -l", func(o *TraceOptions) { o.AllNamespaces = true; o.Selector = "app=web" }, ""},
		{"no pods allowed", func(o *TraceOptions) { o.MaxPods = 0 }, "--max-pods must be at least 1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := valid()
			c.mutate(o)
			err := o.Validate()
			if c.msg == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if ExitCode(err) != ExitUsage || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("got %v (code %d), want usage error with %q", err, ExitCode(err), c.msg)
			}
		})
	}
}

func TestWriteReadyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ready")
	if err := writeReadyFile(path, "trace-debug-abcde"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil || string(b) != "trace-debug-abcde\n" {
		t.Fatalf("ready file = %q, %v", b, err)
	}
	if err := writeReadyFile(filepath.Join(t.TempDir(), "no/such/dir/ready"), "x"); err == nil {
		t.Fatal("want an error for a missing directory")
	}
}
