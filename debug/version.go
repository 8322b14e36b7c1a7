package debug

// version is the client's version, set at link time
// (-X github.com/trace-debug/kubectl-trace-debug/debug.version=...).
var version = "dev"

// imageRepository is the runner image's repository, set at link time.
var imageRepository = "ghcr.io/kubectl-trace-debug/runner"

// imageDigest and nativeImageDigest pin a release's runner images
// ("sha256:..."), set at link time by release builds (scripts/krew.sh with
// RUNNER_DIGEST and RUNNER_NATIVE_DIGEST): a tag can be moved, a digest
// cannot, and deploy/policy.yaml admits the runner by digest.
var imageDigest, nativeImageDigest string

// Version returns the client's version.
func Version() string { return version }

// DefaultImage is the runner image of the client's own version: client and
// runner are released together, so the protocol between them always matches.
func DefaultImage() string { return imageRef("", imageDigest) }

// NativeImage is the small runner image without bpftrace and LLVM, which
// serves the native engines (--syscalls, --func).
func NativeImage() string { return imageRef("-native", nativeImageDigest) }

// imageRef is the runner image by digest when the build pinned one, else by
// the version's tag (with suffix).
func imageRef(suffix, digest string) string {
	if digest != "" {
		return imageRepository + "@" + digest
	}
	return imageRepository + ":" + version + suffix
}
