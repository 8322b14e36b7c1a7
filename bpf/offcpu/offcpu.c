//go:build ignore

// offcpu measures where the threads of some processes of one PID namespace
// (the target container's) wait off the CPU, from the scheduler's
// sched_switch tracepoint (no kprobes): when a tracked thread leaves the
// CPU, its state, its system call and its user stack (by frame pointers;
// the kernel's too for an uninterruptible wait) are kept with the time;
// when it comes back, the time it was away is added to (process, user
// stack, kernel stack, state, system call). The time on the CPU is the
// kernel's own count (schedstat), which the runner reads.
#include <stdbool.h>
#include <stddef.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

char __license[] SEC("license") = "Dual MIT/GPL";

// The fields read of the kernel's task_struct, found by their names in the
// running kernel's types (CO-RE): nothing here assumes a layout.
struct ns_common {
	unsigned int inum;
} __attribute__((preserve_access_index));

struct pid_namespace {
	struct ns_common ns;
} __attribute__((preserve_access_index));

struct upid {
	int nr;
	struct pid_namespace *ns;
} __attribute__((preserve_access_index));

struct pid {
	unsigned int level;
	struct upid numbers[1];
} __attribute__((preserve_access_index));

struct task_struct {
	unsigned int __state;
	struct pid *thread_pid;
} __attribute__((preserve_access_index));

// The system call a task is in (-1: none), x86's and arm64's way; the
// flavour the running kernel has is the one read.
struct pt_regs___sc_x86 {
	long orig_ax;
} __attribute__((preserve_access_index));

struct pt_regs___sc_arm64 {
	int syscallno;
} __attribute__((preserve_access_index));

// Kernels before 5.14 call the state "state".
struct task_struct___old {
	long state;
} __attribute__((preserve_access_index));

// Set before load: the target's PID namespace (device and inode of
// /proc/PID/ns/pid).
volatile const __u64 pidns_dev = 0;
volatile const __u64 pidns_ino = 0;

#define MAX_DEPTH 127
#define MAX_THREADS 16384

// The processes whose threads are followed, by their PID in the namespace:
// set by the runner.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u8);
} tracked SEC(".maps");

// away is a tracked thread off the CPU: since when, as what.
struct away {
	__u64 since;
	__u32 tgid; // in the namespace
	__s32 user_stack;
	__s32 kernel_stack; // uninterruptible waits only (see on_switch)
	__u32 state;
	__s32 syscall;
	__u32 pad;
};

// Threads off the CPU now, by their thread id in the namespace (the runner
// adds those asleep when the window begins).
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_THREADS);
	__type(key, __u32);
	__type(value, struct away);
} aways SEC(".maps");

// last is the user stack a thread last left the CPU with, and where.
struct last {
	__u64 when;
	__s32 user_stack;
	__s32 syscall;
	__u32 state;
	__u32 pad;
};

// Each thread's last stack, by its thread id in the namespace.
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_THREADS);
	__type(key, __u32);
	__type(value, struct last);
} lasts SEC(".maps");

// RESTACK_NS is how long a thread that keeps leaving the CPU from the same
// system call in the same state keeps its last user stack before it is
// walked again: the walk costs microseconds, a switch-heavy thread would
// pay them thousands of times a second.
#define RESTACK_NS 1000000

struct wait_key {
	__u32 tgid;
	__s32 user_stack;
	__s32 kernel_stack;
	__u32 state;
	__s32 syscall;
};

// Nanoseconds off the CPU, by process, stacks and state.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct wait_key);
	__type(value, __u64);
} waits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 16384);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, MAX_DEPTH * sizeof(__u64));
} stacks SEC(".maps");

// What could not be recorded, by reason (see Lost).
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 3);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

static void count_lost(__u32 reason)
{
	__u64 *n = bpf_map_lookup_elem(&lost, &reason);
	if (n)
		__sync_fetch_and_add(n, 1);
}

static void add(void *map, void *key, __u64 ns)
{
	__u64 *v = bpf_map_lookup_elem(map, key);
	if (v) {
		__sync_fetch_and_add(v, ns);
		return;
	}
	if (bpf_map_update_elem(map, key, &ns, BPF_NOEXIST)) {
		v = bpf_map_lookup_elem(map, key); // another CPU made it first
		if (v)
			__sync_fetch_and_add(v, ns);
		else
			count_lost(2);
	}
}

// ns_tid is t's thread id in the target's namespace; 0 if it is not in
// it.
static __u32 ns_tid(struct task_struct *t)
{
	struct pid *p = BPF_CORE_READ(t, thread_pid);
	if (!p)
		return 0;
	unsigned int level = BPF_CORE_READ(p, level);
	if (level > 32)
		return 0;
	struct upid u = {};
	if (bpf_core_read(&u, sizeof(u), &p->numbers[level]))
		return 0;
	if (!u.ns || BPF_CORE_READ(u.ns, ns.inum) != pidns_ino)
		return 0;
	return u.nr;
}

static __s32 task_syscall(struct task_struct *t)
{
	void *regs = (void *)bpf_task_pt_regs(t);
	if (!regs)
		return -1;
	if (bpf_core_type_exists(struct pt_regs___sc_x86) && bpf_core_field_exists(((struct pt_regs___sc_x86 *)0)->orig_ax))
		return BPF_CORE_READ((struct pt_regs___sc_x86 *)regs, orig_ax);
	if (bpf_core_field_exists(((struct pt_regs___sc_arm64 *)0)->syscallno))
		return BPF_CORE_READ((struct pt_regs___sc_arm64 *)regs, syscallno);
	return -1;
}

static __u32 task_state(struct task_struct *t)
{
	if (bpf_core_field_exists(t->__state))
		return BPF_CORE_READ(t, __state);
	struct task_struct___old *old = (void *)t;
	return BPF_CORE_READ(old, state);
}

SEC("tp_btf/sched_switch")
int BPF_PROG(on_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	__u64 now = bpf_ktime_get_ns();

	// prev, the current task, leaves the CPU.
	struct bpf_pidns_info ns = {};
	if (!bpf_get_ns_current_pid_tgid(pidns_dev, pidns_ino, &ns, sizeof(ns)) &&
	    bpf_map_lookup_elem(&tracked, &ns.tgid)) {
		__u32 tid = ns.pid;
		struct away a = {.since = now, .tgid = ns.tgid, .state = task_state(prev), .syscall = task_syscall(prev), .kernel_stack = -1};
		if (preempt)
			a.state = 0; // preempted: runnable, whatever it was about to become
		struct last *l = bpf_map_lookup_elem(&lasts, &tid);
		if (l && now - l->when < RESTACK_NS && l->syscall == a.syscall && l->state == a.state) {
			a.user_stack = l->user_stack;
		} else {
			a.user_stack = bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);
			if (a.user_stack < 0 && a.user_stack != -14)
				count_lost(0);
			struct last n = {.when = now, .user_stack = a.user_stack, .syscall = a.syscall, .state = a.state};
			bpf_map_update_elem(&lasts, &tid, &n, BPF_ANY);
		}
		// The kernel's stack says why a thread waits where its system call
		// does not (a page fault, the disk): walking it costs most of this
		// program's time, so only an uninterruptible wait (not an idle
		// kernel thread's) has it.
		if ((a.state & 2) && !(a.state & 0x400)) {
			a.kernel_stack = bpf_get_stackid(ctx, &stacks, 0);
			if (a.kernel_stack < 0)
				count_lost(0);
		}
		if (bpf_map_update_elem(&aways, &tid, &a, BPF_ANY))
			count_lost(1);
	}

	// next comes back, if it is a tracked thread that was away.
	__u32 tid = ns_tid(next);
	struct away *a = tid ? bpf_map_lookup_elem(&aways, &tid) : NULL;
	if (a) {
		struct wait_key k = {.tgid = a->tgid, .user_stack = a->user_stack, .kernel_stack = a->kernel_stack, .state = a->state, .syscall = a->syscall};
		__u64 from = a->since;
		bpf_map_delete_elem(&aways, &tid);
		add(&waits, &k, now - from);
	}
	return 0;
}
