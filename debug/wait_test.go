package debug

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
)

func TestWaitingProblem(t *testing.T) {
	for _, c := range []struct {
		reason string
		fatal  bool
	}{
		{"ContainerCreating", false},
		{"PodInitializing", false},
		{"ErrImagePull", true},
		{"ImagePullBackOff", true},
		{"ErrImageNeverPull", true},
		{"InvalidImageName", true},
		{"CreateContainerConfigError", true},
		{"RunContainerError", true},
	} {
		err := WaitingProblem("trace-debug-x", &corev1.ContainerStateWaiting{Reason: c.reason, Message: "because"})
		if (err != nil) != c.fatal {
			t.Errorf("%s: error %v, want fatal=%v", c.reason, err, c.fatal)
			continue
		}
		if err != nil && (ExitCode(err) != ExitImage || !strings.Contains(err.Error(), c.reason+": because")) {
			t.Errorf("%s: got %v (code %d)", c.reason, err, ExitCode(err))
		}
	}
	if WaitingProblem("x", nil) != nil {
		t.Error("nil waiting state is no problem")
	}
}

func TestTracerResult(t *testing.T) {
	for _, c := range []struct {
		exit int32
		code int
		msg  string
	}{
		{0, 0, ""},
		{1, 1, "the tracer exited with code 1"},
		{130, 130, "code 130"},
		{protocol.ExitProgramRejected, ExitProgramRejected, "rejected before anything was attached"},
		{protocol.ExitKernelUnsupported, ExitKernel, "kernel cannot be traced"},
		{protocol.ExitUnsafeProgram, ExitProgramRejected, "would crash its target"},
		{protocol.ExitTargetNotFound, ExitTargetNotFound, "could not find the target"},
		{protocol.ExitNoClient, ExitInternal, "did not hear from this client"},
		{protocol.ExitUsage, ExitImage, "different versions"},
		{protocol.ExitMemory, ExitMemory, "memory limit"},
		{protocol.ExitExpired, ExitTimeout, "after its session's deadline"},
	} {
		err := tracerResult("trace-debug-x", &corev1.ContainerStateTerminated{ExitCode: c.exit, Reason: "Error"})
		if ExitCode(err) != c.code || (err != nil && !strings.Contains(err.Error(), c.msg)) {
			t.Errorf("exit %d: got %v (code %d), want code %d with %q", c.exit, err, ExitCode(err), c.code, c.msg)
		}
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
