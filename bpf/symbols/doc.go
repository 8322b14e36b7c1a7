// Package symbols names the addresses of sampled stacks: user addresses
// through the process's own mappings (/proc/PID/maps, the files read through
// /proc/PID/map_files, so another mount namespace is fine) and the file's
// functions — Go executables from .gopclntab when stripped, the same lookup
// as --func; other ELF files from .symtab, else the separate debug file the
// process's root keeps for them (by build ID under /usr/lib/debug, or by
// .gnu_debuglink), else .dynsym; C++ and Rust names demangled — and kernel
// addresses from /proc/kallsyms. An address without a name is kept as
// file+0xOFFSET. It also gives each native file's call-frame rules
// (package cfi), read when first asked, for the CPU profile's unwinder.
// It is pure but for reading those files.
//
// Pod-only: it runs in the runner, in the tracer container; the client
// links none of it (boundary_test.go keeps it so).
package symbols
