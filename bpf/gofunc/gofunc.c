//go:build ignore

// gofunc traces Go functions safely: a uprobe at the entry and one at every
// RET instruction (never a uretprobe, which crashes Go programs). Calls are
// paired by goroutine (the g register), not by thread, because goroutines
// move between threads. At each RET the ABIInternal result registers are
// sent to user space with the call's duration.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char __license[] SEC("license") = "Dual MIT/GPL";

// The layouts of the registers a uprobe sees (UAPI, stable).
#if defined(__TARGET_ARCH_x86)
struct regs {
	unsigned long r15, r14, r13, r12, bp, bx, r11, r10, r9, r8, ax, cx, dx, si, di;
	unsigned long orig_ax, ip, cs, flags, sp, ss;
};
#define GOROUTINE(r) ((r)->r14)
#define RESULTS(r) {(r)->ax, (r)->bx, (r)->cx, (r)->di, (r)->si, (r)->r8, (r)->r9, (r)->r10, (r)->r11}
#elif defined(__TARGET_ARCH_arm64)
struct regs {
	unsigned long regs[31], sp, pc, pstate;
};
#define GOROUTINE(r) ((r)->regs[28])
#define RESULTS(r) {(r)->regs[0], (r)->regs[1], (r)->regs[2], (r)->regs[3], (r)->regs[4], (r)->regs[5], (r)->regs[6], (r)->regs[7], (r)->regs[8]}
#endif

// Set before load: the target's PID namespace (device, inode).
volatile const __u64 pidns_dev = 0;
volatile const __u64 pidns_ino = 0;

#define NRESULTS 9
#define STRBYTES 64

struct call_key {
	__u64 g;
	__u32 tgid;
	__u32 func;
};

struct event {
	__u32 func;
	__u32 tgid;
	__u64 duration_ns;
	__u64 results[NRESULTS];
	// The first STRBYTES bytes at results[0], in case it is a string's data.
	__u8 str[STRBYTES];
};

// Keeps struct event in the BTF, for bpf2go -type event.
const struct event *unused_event __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct call_key);
	__type(value, __u64);
} starts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} events SEC(".maps");

static __always_inline int in_target(__u32 *tgid)
{
	struct bpf_pidns_info ns = {};
	if (bpf_get_ns_current_pid_tgid(pidns_dev, pidns_ino, &ns, sizeof(ns)))
		return 0;
	*tgid = ns.tgid;
	return 1;
}

// The attach cookie is the function's index.
SEC("uprobe")
int go_entry(struct regs *ctx)
{
	struct call_key k = {.g = GOROUTINE(ctx), .func = (__u32)bpf_get_attach_cookie(ctx)};
	if (!in_target(&k.tgid))
		return 0;
	__u64 now = bpf_ktime_get_ns();
	bpf_map_update_elem(&starts, &k, &now, BPF_ANY);
	return 0;
}

SEC("uprobe")
int go_return(struct regs *ctx)
{
	struct call_key k = {.g = GOROUTINE(ctx), .func = (__u32)bpf_get_attach_cookie(ctx)};
	if (!in_target(&k.tgid))
		return 0;
	__u64 *start = bpf_map_lookup_elem(&starts, &k);
	if (!start)
		return 0; // entered before the probes were attached
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->func = k.func;
	e->tgid = k.tgid;
	e->duration_ns = bpf_ktime_get_ns() - *start;
	unsigned long r[NRESULTS] = RESULTS(ctx);
	for (int i = 0; i < NRESULTS; i++)
		e->results[i] = r[i];
	if (bpf_probe_read_user(e->str, STRBYTES, (void *)r[0]))
		__builtin_memset(e->str, 0, STRBYTES);
	bpf_ringbuf_submit(e, 0);
	bpf_map_delete_elem(&starts, &k);
	return 0;
}
