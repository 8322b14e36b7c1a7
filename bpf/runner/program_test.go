package runner

import "testing"

func TestSubstituteContainerPID(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`uprobe:/proc/$container_pid/root/bin/bash:readline {}`, `uprobe:/proc/42/root/bin/bash:readline {}`},
		{`uretprobe:/proc/$container_pid/exe:"main.f" { printf("%d", $container_pid); }`, `uretprobe:/proc/42/exe:"main.f" { printf("%d", 42); }`},
		{`BEGIN { $container_pids = 1; $container_pid2 = 2; }`, `BEGIN { $container_pids = 1; $container_pid2 = 2; }`},
		{`tracepoint:syscalls:sys_enter_write { @ = count(); }`, `tracepoint:syscalls:sys_enter_write { @ = count(); }`},
	} {
		if got := SubstituteContainerPID(c.in, 42); got != c.want {
			t.Errorf("SubstituteContainerPID(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
