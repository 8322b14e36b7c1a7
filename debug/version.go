package debug

// version is the client's version, set at link time
// (-X github.com/trace-debug/kubectl-trace-debug/debug.version=...).
var version = "dev"

// imageRepository is the runner image's repository, set at link time.
var imageRepository = "ghcr.io/kubectl-trace-debug/runner"

// Version returns the client's version.
func Version() string { return version }

// DefaultImage is the runner image of the client's own version: client and
// runner are released together, so the protocol between them always matches.
func DefaultImage() string { return imageRepository + ":" + version }

// NativeImage is the small runner image without bpftrace and LLVM, which
// serves the native engines (--syscalls, --func).
func NativeImage() string { return DefaultImage() + "-native" }
