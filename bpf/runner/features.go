package runner

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
)

// Features are what the image's bpftrace can do that the runner uses. The
// runner asks the binary for its version once, at start, and derives each
// feature from the release that brought it (bpftrace's CHANGELOG), so an
// older bpftrace in a user's --image still runs, without what it lacks.
type Features struct {
	// Version is bpftrace's own, e.g. 0.27.1; "" when it could not be read.
	Version string
	// SignalProbes: `self:signal:SIGUSR1` probes (0.22). The runner prints
	// the maps from one on demand, before bpftrace detaches its probes.
	SignalProbes bool
	// OffsetUprobes: `uprobe:BIN:"symbol"+OFFSET` (assumed from 0.24, the
	// oldest release the runner rewrites Go return probes for).
	OffsetUprobes bool
	// NamespacePID: `pid` is the PID in bpftrace's own PID namespace, also
	// inside a pod (0.24.2; 0.23's namespace support fails in pods).
	NamespacePID bool
	// AttachedAfter: the "Attached N probes" message comes after the probes
	// are attached (0.24); before, "Attaching" came first.
	AttachedAfter bool
	// DryRun: --dry-run checks a program without attaching it (0.22).
	DryRun bool
	// SyscallRewrite: the runner rewrites syscall wildcards into one
	// raw_syscalls probe (args.id, string ternaries; measured on 0.27).
	SyscallRewrite bool
}

// FeaturesOf derives the features of a bpftrace version such as "0.27.1"
// or "v0.17.0".
func FeaturesOf(version string) Features {
	v := parseVersion(version)
	at := func(want ...int) bool { return compareVersions(v, want) >= 0 }
	return Features{
		Version:        strings.TrimPrefix(strings.TrimSpace(version), "v"),
		SignalProbes:   at(0, 22),
		OffsetUprobes:  at(0, 24),
		NamespacePID:   at(0, 24, 2),
		AttachedAfter:  at(0, 24),
		DryRun:         at(0, 22),
		SyscallRewrite: at(0, 24),
	}
}

// String lists the features for the runner's start line.
func (f Features) String() string {
	var on []string
	for _, x := range []struct {
		name string
		ok   bool
	}{{"maps on demand", f.SignalProbes}, {"Go return probes", f.OffsetUprobes}, {"namespaced pid", f.NamespacePID}} {
		if x.ok {
			on = append(on, x.name)
		} else {
			on = append(on, "no "+x.name)
		}
	}
	return strings.Join(on, ", ")
}

var versionRE = regexp.MustCompile(`v?(\d+(?:\.\d+)*)`)

// DetectFeatures asks the bpftrace binary tracer for its version.
func DetectFeatures(tracer string) Features {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, tracer, "--version").Output()
	if err != nil {
		return Features{}
	}
	m := versionRE.FindStringSubmatch(string(out))
	if m == nil {
		return Features{}
	}
	return FeaturesOf(m[1])
}

func parseVersion(s string) []int {
	m := versionRE.FindStringSubmatch(s)
	if m == nil {
		return nil
	}
	var v []int
	for _, p := range strings.Split(m[1], ".") {
		n, _ := strconv.Atoi(p)
		v = append(v, n)
	}
	return v
}

func compareVersions(a, b []int) int {
	if len(a) == 0 {
		return -1 // unknown: assume nothing
	}
	for i := 0; i < len(a) || i < len(b); i++ {
		x, y := 0, 0
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

// versionNote is the runner's start line about the tracer
// (protocol.TracerVersionPrefix, when the version is known).
func (f Features) versionNote(tracer string) string {
	if f.Version == "" {
		return fmt.Sprintf("trace-debug-runner: %s did not say its version; running without the features of newer releases", tracer)
	}
	return fmt.Sprintf("%s%s (%s)", protocol.TracerVersionPrefix, f.Version, f)
}
