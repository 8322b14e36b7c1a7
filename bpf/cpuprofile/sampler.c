//go:build ignore

// sampler records the on-CPU stacks, user and kernel, of the processes of
// one PID namespace (the target container's) from a perf event per CPU,
// counting each distinct (process, user stack, kernel stack) once per sample.
#include <linux/bpf.h>
#include <linux/bpf_perf_event.h>
#include <bpf/bpf_helpers.h>

char __license[] SEC("license") = "Dual MIT/GPL";

// Set before load: the target's PID namespace (device and inode of
// /proc/PID/ns/pid) and the runner's own PID there, which is not sampled.
volatile const __u64 pidns_dev = 0;
volatile const __u64 pidns_ino = 0;
volatile const __u32 self_tgid = 0;

#define MAX_DEPTH 127

struct key {
	__u32 pid;
	__s32 user_stack;
	__s32 kernel_stack;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct key);
	__type(value, __u64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 16384);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, MAX_DEPTH * sizeof(__u64));
} stacks SEC(".maps");

// Samples the kernel could not record whole, by reason (see lostReasons).
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

static void count_lost(__u32 reason)
{
	__u64 *n = bpf_map_lookup_elem(&lost, &reason);
	if (n)
		__sync_fetch_and_add(n, 1);
}

SEC("perf_event")
int sample(struct bpf_perf_event_data *ctx)
{
	struct bpf_pidns_info ns = {};
	if (bpf_get_ns_current_pid_tgid(pidns_dev, pidns_ino, &ns, sizeof(ns)))
		return 0; // another PID namespace: not the target's
	if (ns.tgid == self_tgid)
		return 0;

	struct key k = {.pid = ns.tgid};
	k.user_stack = bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);
	k.kernel_stack = bpf_get_stackid(ctx, &stacks, 0);
	if (k.user_stack < 0 && k.user_stack != -14) // -EFAULT: no user stack (a kernel thread, or in the kernel)
		count_lost(0);
	if (k.kernel_stack < 0 && k.kernel_stack != -14)
		count_lost(1);

	__u64 *v = bpf_map_lookup_elem(&counts, &k);
	if (v) {
		__sync_fetch_and_add(v, 1);
		return 0;
	}
	__u64 one = 1;
	if (bpf_map_update_elem(&counts, &k, &one, BPF_NOEXIST))
		count_lost(2);
	return 0;
}
