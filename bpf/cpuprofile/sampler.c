//go:build ignore

// sampler records the on-CPU stacks, user and kernel, of the processes of
// one PID namespace (the target container's) from a perf event per CPU.
// Each sample goes to user space on a ring buffer: its process, its kernel
// stack and its frame-pointer user stack (ids in the stack map), and what
// unwinding the user stack without frame pointers needs: the user
// registers (pc, sp, bp) and a copy of the top of the user stack.
#include <stddef.h>
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

// arm64_regs is the start of arm64's struct pt_regs (its user_pt_regs),
// spelt here: the sampler is built with one architecture's headers.
struct arm64_regs {
	__u64 regs[31];
	__u64 sp;
	__u64 pc;
	__u64 pstate;
};

// STACK_COPY is how much of the user stack a sample copies, from sp up.
#define STACK_COPY 16384

struct sample {
	__u32 pid;
	__s32 user_stack;
	__s32 kernel_stack;
	__u32 len; // bytes of stack copied
	__u64 pc, sp, bp;
	__u8 stack[STACK_COPY];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 2 << 20); // 128 samples of a whole copy: the runner takes them as they come
} samples SEC(".maps");

// scratch is where a sample is made before it is sent (too large for the
// BPF stack).
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sample);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 16384);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, MAX_DEPTH * sizeof(__u64));
} stacks SEC(".maps");

// Samples the kernel could not record whole, by reason (see lostReasons).
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 5);
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

	__u32 zero = 0;
	struct sample *k = bpf_map_lookup_elem(&scratch, &zero);
	if (!k)
		return 0;
	k->pid = ns.tgid;
	k->user_stack = bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);
	k->kernel_stack = bpf_get_stackid(ctx, &stacks, 0);
	if (k->user_stack < 0 && k->user_stack != -14) // -EFAULT: no user stack (a kernel thread, or in the kernel)
		count_lost(0);
	if (k->kernel_stack < 0 && k->kernel_stack != -14)
		count_lost(1);

	// The user registers, whether the sample interrupted user code or the
	// kernel on the task's behalf.
	k->pc = k->sp = k->bp = 0;
	k->len = 0;
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	if (regs) {
#if defined(__TARGET_ARCH_x86)
		bpf_probe_read_kernel(&k->pc, sizeof(k->pc), &regs->rip);
		bpf_probe_read_kernel(&k->sp, sizeof(k->sp), &regs->rsp);
		bpf_probe_read_kernel(&k->bp, sizeof(k->bp), &regs->rbp);
#elif defined(__TARGET_ARCH_arm64)
		struct arm64_regs *r = (struct arm64_regs *)regs;
		bpf_probe_read_kernel(&k->pc, sizeof(k->pc), &r->pc);
		bpf_probe_read_kernel(&k->sp, sizeof(k->sp), &r->sp);
		bpf_probe_read_kernel(&k->bp, sizeof(k->bp), &r->regs[29]); // the frame pointer
#endif
	}
	// As much of the stack as can be read, from sp up: the whole copy,
	// or, near the top of a stack whose next page is not mapped, up to the
	// end of the last page that is.
	if (k->sp) {
		if (!bpf_probe_read_user(k->stack, STACK_COPY, (void *)k->sp)) {
			k->len = STACK_COPY;
		} else {
			__u32 to_page = 4096 - (k->sp & 4095); // to the end of sp's page
			for (int pages = 3; pages >= 0; pages--) {
				__u32 n = to_page + pages * 4096;
				if (n > STACK_COPY)
					continue;
				n &= STACK_COPY * 2 - 1; // (a bound the verifier sees)
				if (n && n <= STACK_COPY && !bpf_probe_read_user(k->stack, n, (void *)k->sp)) {
					k->len = n;
					break;
				}
			}
			if (!k->len)
				count_lost(4);
		}
	}
	__u64 size = offsetof(struct sample, stack) + k->len;
	if (size > sizeof(*k))
		size = sizeof(*k);
	if (bpf_ringbuf_output(&samples, k, size, 0))
		count_lost(2);
	return 0;
}
