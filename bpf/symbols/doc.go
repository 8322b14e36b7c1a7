// Package symbols names the addresses of sampled stacks: user addresses
// through the process's own mappings (/proc/PID/maps, the files read through
// /proc/PID/map_files, so another mount namespace is fine) and the file's
// functions — Go executables from .gopclntab when stripped, the same lookup
// as --func; other ELF files from .symtab or .dynsym — and kernel addresses
// from /proc/kallsyms. An address without a name is kept as file+0xOFFSET.
// It is pure but for reading those files.
//
// Pod-only: it runs in the runner, in the tracer container; the client
// links none of it (boundary_test.go keeps it so).
package symbols
