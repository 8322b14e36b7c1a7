//go:build ignore

// census counts the system calls of the processes of one PID namespace (the
// target container's), by syscall number and thread name, with one raw
// tracepoint instead of one tracepoint per syscall.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char __license[] SEC("license") = "Dual MIT/GPL";

// Set before load: the target's PID namespace (device and inode of
// /proc/PID/ns/pid) and the runner's own PID there, which is not counted.
volatile const __u64 pidns_dev = 0;
volatile const __u64 pidns_ino = 0;
volatile const __u32 self_tgid = 0;

struct key {
	__u32 nr;
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct key);
	__type(value, __u64);
} counts SEC(".maps");

// Keys that did not fit in counts.
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} dropped SEC(".maps");

SEC("raw_tracepoint/sys_enter")
int count_sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
	struct bpf_pidns_info ns = {};
	if (bpf_get_ns_current_pid_tgid(pidns_dev, pidns_ino, &ns, sizeof(ns)))
		return 0; // another PID namespace: not the target's
	if (ns.tgid == self_tgid)
		return 0;

	struct key k = {.nr = (__u32)ctx->args[1]};
	bpf_get_current_comm(k.comm, sizeof(k.comm));
	__u64 *v = bpf_map_lookup_elem(&counts, &k);
	if (v) {
		__sync_fetch_and_add(v, 1);
		return 0;
	}
	__u64 one = 1;
	if (bpf_map_update_elem(&counts, &k, &one, BPF_NOEXIST)) {
		__u32 zero = 0;
		__u64 *d = bpf_map_lookup_elem(&dropped, &zero);
		if (d)
			__sync_fetch_and_add(d, 1);
	}
	return 0;
}
