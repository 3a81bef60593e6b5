// SPDX-License-Identifier: (MIT OR GPL-2.0)
/* Tripline's kernel sensor.
 *
 * Needs only tracepoints, raw tracepoints, ring buffers and BTF (no kprobes, fentry, tp_btf or
 * BPF LSM). Syscalls are hooked one of two ways, chosen by user space (see loader.rs):
 *   syscall tracepoints                one decoder per reported syscall, attached to
 *                                      syscalls/sys_exit_NAME (and sys_enter_NAME for the
 *                                      open family and connect); a syscall no rule needs
 *                                      costs the kernel a bitmap test and runs no BPF at all
 *   raw_tracepoint/sys_exit            (fallback, and --every-syscall) checks a per-syscall
 *                                      switch, then tail-calls the same decoder
 * and processes through:
 *   raw_tracepoint/sched_process_exec  successful execve/execveat with the new image's facts
 *   raw_tracepoint/sched_process_fork  new processes (threads are not reported)
 *   raw_tracepoint/sched_process_exit  process exits
 * Records go to one ring buffer without waking user space until it is a quarter full; user
 * space polls adaptively. Every record that cannot be written is counted. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "wire.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define MAX_SYSCALLS 512
#define MAX_STR 4096           /* longest path or argument block copied */
#define OFF_MASK 8191          /* variable fields start below 8 KiB ... */
/* ... so the last one always fits; the slack keeps the verifier's looser bounds in range. */
#define SCRATCH_SIZE (16384 + 2 + MAX_STR)
#define MAX_ARGV 20            /* arguments copied for a failed execve */

#define IPPROTO_TCP 6
#define AF_INET 2
#define AF_INET6 10
#define S_IFMT 00170000
#define S_IFSOCK 0140000

/* Set by user space before load. */
const volatile __u32 self_tgid = 0;
const volatile __u64 wakeup_bytes = 1 << 20;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} events SEC(".maps");

/* interesting[nr] != 0: report syscall nr. Written by user space from the loaded rules. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_SYSCALLS);
	__type(key, __u32);
	__type(value, __u8);
} interesting SEC(".maps");

/* Bits of interesting[nr]. */
#define ON_EXIT 1  /* report at sys_exit */
#define ON_ENTER 2 /* also copy the user argument at sys_enter (see tl_sys_enter) */

/* A user argument copied at sys_enter, keyed by thread id, used by the same thread's sys_exit. */
struct tl_stash {
	__u32 nr;
	__u32 len;
	__u8 data[MAX_STR];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct tl_stash);
} stash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tl_stash);
} stash_scratch SEC(".maps");

/* exit_progs[nr]: the program that decodes syscall nr's arguments. */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, MAX_SYSCALLS);
	__type(key, __u32);
	__type(value, __u32);
} exit_progs SEC(".maps");

struct tl_scratch {
	union {
		struct tl_header hdr;
		__u8 raw[SCRATCH_SIZE];
	};
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tl_scratch);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TL_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

static __always_inline void count(__u32 which)
{
	__u64 *c = bpf_map_lookup_elem(&counters, &which);
	if (c)
		*c += 1;
}

#define TS_COMPAT 0x0002 /* arch/x86/include/asm/thread_info.h */

/* A 32-bit (ia32) syscall: its numbers are not the x86_64 ones, so decoding it with the x86_64
 * table would report the wrong syscall. Such calls are counted instead. */
static __always_inline int in_compat_syscall(void)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	__u32 status = BPF_CORE_READ(task, thread_info.status);
	return status & TS_COMPAT;
}

static __always_inline int is_self(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == self_tgid;
}

static __always_inline struct tl_scratch *begin(__u16 kind, __s64 ret)
{
	__u32 zero = 0;
	struct tl_scratch *s = bpf_map_lookup_elem(&scratch, &zero);
	if (!s) {
		count(TL_CNT_DROP_SCRATCH);
		return 0;
	}
	__u64 id = bpf_get_current_pid_tgid();
	s->hdr.ts_boot_ns = bpf_ktime_get_boot_ns();
	s->hdr.cgroup_id = bpf_get_current_cgroup_id();
	s->hdr.ret = ret;
	s->hdr.tid = (__u32)id;
	s->hdr.pid = id >> 32;
	s->hdr.kind = kind;
	s->hdr.len = 0;
	s->hdr.flags = 0;
	s->hdr.pad = 0;
	for (int i = 0; i < 6; i++)
		s->hdr.args[i] = 0;
	return s;
}

static __always_inline void emit(struct tl_scratch *s, __u32 len)
{
	if (len < sizeof(struct tl_header))
		len = sizeof(struct tl_header);
	if (len > SCRATCH_SIZE)
		len = SCRATCH_SIZE;
	s->hdr.len = len;
	__u64 flags = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > wakeup_bytes
			      ? BPF_RB_FORCE_WAKEUP
			      : BPF_RB_NO_WAKEUP;
	if (bpf_ringbuf_output(&events, s, len, flags))
		count(TL_CNT_DROP_RINGBUF);
	else
		count(TL_CNT_EMITTED);
}

/* Variable fields: u16 length, then the bytes. A field that would start past OFF_MASK is
 * left out and the record marked truncated; user space treats missing fields as empty. */
static __always_inline int no_room(struct tl_scratch *s, __u32 off)
{
	if (off > OFF_MASK) {
		s->hdr.flags |= TL_FLAG_TRUNCATED;
		count(TL_CNT_TRUNCATED);
		return 1;
	}
	return 0;
}

static __always_inline __u32 put_len(struct tl_scratch *s, __u32 i, long n)
{
	if (n < 0)
		n = 0;
	n &= MAX_STR - 1;
	s->raw[i & OFF_MASK] = n & 0xff;
	s->raw[(i & OFF_MASK) + 1] = (n >> 8) & 0xff;
	return (i & OFF_MASK) + 2 + n;
}

static __always_inline __u32 add_user_str(struct tl_scratch *s, __u32 off, const void *src)
{
	if (no_room(s, off))
		return off;
	__u32 i = off & OFF_MASK;
	long n = 0;
	if (src)
		n = bpf_probe_read_user_str(&s->raw[i + 2], MAX_STR, src) - 1;
	return put_len(s, i, n);
}

static __always_inline __u32 add_kernel_str(struct tl_scratch *s, __u32 off, const void *src)
{
	if (no_room(s, off))
		return off;
	__u32 i = off & OFF_MASK;
	long n = 0;
	if (src)
		n = bpf_probe_read_kernel_str(&s->raw[i + 2], MAX_STR, src) - 1;
	return put_len(s, i, n);
}

static __always_inline __u32 add_user_bytes(struct tl_scratch *s, __u32 off, const void *src,
					    __u64 len)
{
	if (no_room(s, off))
		return off;
	__u32 i = off & OFF_MASK;
	long n = 0;
	if (len > MAX_STR - 1)
		len = MAX_STR - 1;
	if (src && len > 0 && bpf_probe_read_user(&s->raw[i + 2], len & (MAX_STR - 1), src) == 0)
		n = len;
	return put_len(s, i, n);
}

static __always_inline __u32 add_kernel_bytes(struct tl_scratch *s, __u32 off, const void *src,
					      __u32 len)
{
	if (no_room(s, off))
		return off;
	__u32 i = off & OFF_MASK;
	long n = 0;
	if (len > 256)
		len = 256;
	if (len > 0 && bpf_probe_read_kernel(&s->raw[i + 2], len & 511, src) == 0)
		n = len;
	return put_len(s, i, n);
}

/* The argument copied at sys_enter for this thread and syscall, if any (consumed). A path or
 * sockaddr read only at exit could have been rewritten by another thread while the call ran;
 * the copy made at entry is what the kernel acted on. */
static __always_inline __u32 add_stashed(struct tl_scratch *s, __u32 off, __u32 nr, int *used)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct tl_stash *st = bpf_map_lookup_elem(&stash, &tid);
	*used = 0;
	if (!st)
		return off;
	if (st->nr != nr) {
		bpf_map_delete_elem(&stash, &tid);
		return off;
	}
	*used = 1;
	if (no_room(s, off)) {
		bpf_map_delete_elem(&stash, &tid);
		return off;
	}
	__u32 i = off & OFF_MASK;
	__u32 n = st->len & (MAX_STR - 1);
	long ok = n > 0 ? bpf_probe_read_kernel(&s->raw[i + 2], n, st->data) : 0;
	bpf_map_delete_elem(&stash, &tid);
	return put_len(s, i, ok == 0 ? n : 0);
}

/* --- sockets --------------------------------------------------------------------------- */

static __always_inline struct file *fd_file(long fd)
{
	if (fd < 0)
		return 0;
	struct task_struct *task = (void *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	unsigned int max = BPF_CORE_READ(fdt, max_fds);
	if (fd >= max)
		return 0;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *f = 0;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

static __always_inline void read_sock(long fd, struct tl_sock *t)
{
	struct file *f = fd_file(fd);
	if (!f)
		return;
	umode_t mode = BPF_CORE_READ(f, f_inode, i_mode);
	if ((mode & S_IFMT) != S_IFSOCK)
		return;
	struct socket *sock = BPF_CORE_READ(f, private_data);
	struct sock *sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return;
	t->type = BPF_CORE_READ(sock, type);
	t->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	t->protocol = BPF_CORE_READ(sk, sk_protocol);
	t->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	t->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (t->family == AF_INET) {
		BPF_CORE_READ_INTO((__u32 *)t->laddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)t->raddr, sk, __sk_common.skc_daddr);
	} else if (t->family == AF_INET6) {
		BPF_CORE_READ_INTO(&t->laddr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&t->raddr, sk, __sk_common.skc_v6_daddr);
	}
}

static __always_inline __u32 add_sock(struct tl_scratch *s, __u32 off, long fd)
{
	struct tl_sock t = {};
	read_sock(fd, &t);
	return add_kernel_bytes(s, off, &t, sizeof(t));
}

/* --- sys_exit ------------------------------------------------------------------------- */

enum shape {
	SHAPE_ARGS,        /* raw arguments only */
	SHAPE_PATH0,       /* string at arg 0 */
	SHAPE_PATH1,       /* string at arg 1 */
	SHAPE_PATH0_1,     /* rename, link, symlink */
	SHAPE_PATH1_3,     /* renameat, renameat2, linkat */
	SHAPE_PATH0_2,     /* symlinkat */
	SHAPE_MOUNT,       /* source, target, fstype */
	SHAPE_SOCK_ADDR1,  /* connect, bind: tuple of fd arg 0, sockaddr at arg 1 (len arg 2) */
	SHAPE_SOCK_ADDR4,  /* sendto, non-TCP: tuple of fd arg 0, sockaddr at arg 4 (len arg 5) */
	SHAPE_SOCK_UDP,    /* recvfrom, non-TCP: tuple of fd arg 0 */
	SHAPE_SOCK_FD0,    /* listen, recvfrom: tuple of fd arg 0 */
	SHAPE_SOCK_RET,    /* accept, accept4: tuple of the returned fd */
	SHAPE_EXEC_FAIL0,  /* execve failures: path arg 0, argv arg 1 */
	SHAPE_EXEC_FAIL1,  /* execveat failures: path arg 1, argv arg 2 */
	SHAPE_OPENAT2,     /* path arg 1, then struct open_how's flags (arg 2) */
};

static __always_inline __u32 add_argv(struct tl_scratch *s, __u32 off, const char *const *argv)
{
	/* All arguments in one field, NUL-separated, like /proc/PID/cmdline. */
	if (no_room(s, off))
		return off;
	__u32 start = off & OFF_MASK;
	__u32 w = 0;
	for (int a = 0; a < MAX_ARGV && argv; a++) {
		const char *p = 0;
		if (bpf_probe_read_user(&p, sizeof(p), &argv[a]) || !p)
			break;
		if (w > MAX_STR - 256)
			break;
		long n = bpf_probe_read_user_str(&s->raw[start + 2 + (w & (MAX_STR - 1))], 256, p);
		if (n <= 0)
			break;
		w += n;
	}
	if (w > 0)
		w -= 1; /* the last NUL */
	return put_len(s, start, w);
}

/* A sendto without a destination (`dest_addr`, arg 4, in r8) goes to the socket's connected
 * peer, already known from connect or accept: nothing new to report. It is how every TCP
 * server and client sends, so this is checked before anything else. */
static __always_inline int no_new_peer(__u64 dest_addr, enum shape shape)
{
	return shape == SHAPE_SOCK_ADDR4 && dest_addr == 0;
}

/* Reports one syscall exit: `regs` are the caller's registers (the arguments), `ret` the
 * result. */
static __always_inline int exit_common(const struct pt_regs *regs, long ret, enum shape shape)
{
	struct pt_regs r = {};
	bpf_probe_read_kernel(&r, sizeof(r), regs);
	if ((shape == SHAPE_EXEC_FAIL0 || shape == SHAPE_EXEC_FAIL1) && ret == 0)
		return 0; /* reported by sched_process_exec with the new image */
	if (no_new_peer(r.r8, shape))
		return 0;
	/* sendto/recvfrom matter for datagrams (DNS, UDP exfiltration); on TCP they are the bulk
	 * of a server's traffic and the connection is already known from connect/accept. */
	struct tl_sock udp = {};
	if (shape == SHAPE_SOCK_ADDR4 || shape == SHAPE_SOCK_UDP) {
		read_sock(r.di, &udp);
		if (udp.protocol == IPPROTO_TCP)
			return 0;
	}
	struct tl_scratch *s = begin(r.orig_ax, ret);
	if (!s)
		return 0;
	s->hdr.args[0] = r.di;
	s->hdr.args[1] = r.si;
	s->hdr.args[2] = r.dx;
	s->hdr.args[3] = r.r10;
	s->hdr.args[4] = r.r8;
	s->hdr.args[5] = r.r9;
	__u32 off = sizeof(struct tl_header);
	int used = 0;
	switch (shape) {
	case SHAPE_ARGS:
		break;
	case SHAPE_PATH0:
		off = add_stashed(s, off, r.orig_ax, &used);
		if (!used)
			off = add_user_str(s, off, (void *)r.di);
		break;
	case SHAPE_PATH1:
		off = add_stashed(s, off, r.orig_ax, &used);
		if (!used)
			off = add_user_str(s, off, (void *)r.si);
		break;
	case SHAPE_PATH0_1:
		off = add_user_str(s, off, (void *)r.di);
		off = add_user_str(s, off, (void *)r.si);
		break;
	case SHAPE_PATH1_3:
		off = add_user_str(s, off, (void *)r.si);
		off = add_user_str(s, off, (void *)r.r10);
		break;
	case SHAPE_PATH0_2:
		off = add_user_str(s, off, (void *)r.di);
		off = add_user_str(s, off, (void *)r.dx);
		break;
	case SHAPE_MOUNT:
		off = add_user_str(s, off, (void *)r.di);
		off = add_user_str(s, off, (void *)r.si);
		off = add_user_str(s, off, (void *)r.dx);
		break;
	case SHAPE_SOCK_ADDR1:
		off = add_sock(s, off, r.di);
		off = add_stashed(s, off, r.orig_ax, &used);
		if (!used)
			off = add_user_bytes(s, off, (void *)r.si, r.dx > 128 ? 128 : r.dx);
		break;
	case SHAPE_SOCK_ADDR4:
		off = add_kernel_bytes(s, off, &udp, sizeof(udp));
		off = add_user_bytes(s, off, (void *)r.r8, r.r9 > 128 ? 128 : r.r9);
		break;
	case SHAPE_SOCK_UDP:
		off = add_kernel_bytes(s, off, &udp, sizeof(udp));
		break;
	case SHAPE_SOCK_FD0:
		off = add_sock(s, off, r.di);
		break;
	case SHAPE_SOCK_RET:
		off = add_sock(s, off, ret);
		break;
	case SHAPE_EXEC_FAIL0:
		off = add_user_str(s, off, (void *)r.di);
		off = add_argv(s, off, (void *)r.si);
		break;
	case SHAPE_OPENAT2:
		off = add_stashed(s, off, r.orig_ax, &used);
		if (!used)
			off = add_user_str(s, off, (void *)r.si);
		off = add_user_bytes(s, off, (void *)r.dx, 8);
		break;
	case SHAPE_EXEC_FAIL1:
		off = add_user_str(s, off, (void *)r.si);
		off = add_argv(s, off, (void *)r.dx);
		break;
	}
	emit(s, off);
	return 0;
}

/* The layouts of syscalls/sys_enter_NAME and sys_exit_NAME records (trace_syscalls.c). */
struct tl_tp_enter {
	__u64 common;
	int nr;
	unsigned long args[]; /* as many as the syscall takes */
};

struct tl_tp_exit {
	__u64 common;
	int nr;
	long ret;
};

/* Each decoder twice: a tail-call target of tl_sys_exit (raw tracepoint context: the regs
 * pointer and the result), and a program attached directly to syscalls/sys_exit_NAME. The
 * tracepoint skips ia32 syscalls itself, so only our own calls are left out here. */
#define EXIT_PROG(name, shape)                                                       \
	SEC("raw_tracepoint/" #name)                                                 \
	int name(unsigned long long *ctx)                                            \
	{                                                                            \
		return exit_common((const struct pt_regs *)ctx[0], ctx[1], shape);   \
	}                                                                            \
	SEC("tracepoint/syscalls/" #name)                                            \
	int name##_tp(struct tl_tp_exit *ctx)                                        \
	{                                                                            \
		struct task_struct *task = bpf_get_current_task_btf();               \
		struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);     \
		if (no_new_peer(regs->r8, shape) || is_self())                       \
			return 0;                                                    \
		count(TL_CNT_DISPATCHED);                                            \
		return exit_common(regs, ctx->ret, shape);                           \
	}

EXIT_PROG(tl_x_args, SHAPE_ARGS)
EXIT_PROG(tl_x_path0, SHAPE_PATH0)
EXIT_PROG(tl_x_path1, SHAPE_PATH1)
EXIT_PROG(tl_x_path0_1, SHAPE_PATH0_1)
EXIT_PROG(tl_x_path1_3, SHAPE_PATH1_3)
EXIT_PROG(tl_x_path0_2, SHAPE_PATH0_2)
EXIT_PROG(tl_x_mount, SHAPE_MOUNT)
EXIT_PROG(tl_x_sock_a1, SHAPE_SOCK_ADDR1)
EXIT_PROG(tl_x_sock_a4, SHAPE_SOCK_ADDR4)
EXIT_PROG(tl_x_sock_fd0, SHAPE_SOCK_FD0)
EXIT_PROG(tl_x_sock_udp, SHAPE_SOCK_UDP)
EXIT_PROG(tl_x_sock_ret, SHAPE_SOCK_RET)
EXIT_PROG(tl_x_exec0, SHAPE_EXEC_FAIL0)
EXIT_PROG(tl_x_exec1, SHAPE_EXEC_FAIL1)
EXIT_PROG(tl_x_openat2, SHAPE_OPENAT2)

SEC("raw_tracepoint/sys_exit")
int tl_sys_exit(unsigned long long *ctx)
{
	struct pt_regs *regs = (struct pt_regs *)ctx[0];
	__u64 nr = 0;
	bpf_probe_read_kernel(&nr, sizeof(nr), &regs->orig_ax);
	if (nr >= MAX_SYSCALLS)
		return 0;
	__u32 key = nr;
	__u8 *on = bpf_map_lookup_elem(&interesting, &key);
	if (!on || !(*on & ON_EXIT) || is_self())
		return 0;
	if (in_compat_syscall()) {
		count(TL_CNT_COMPAT);
		return 0;
	}
	count(TL_CNT_DISPATCHED);
	bpf_tail_call(ctx, &exit_progs, key);
	/* No decoder installed for this syscall: raw arguments only. */
	return exit_common((const struct pt_regs *)ctx[0], ctx[1], SHAPE_ARGS);
}

/* --- sys_enter ------------------------------------------------------------------------- */

/* The open family and connect: copy the path or sockaddr the caller passed before the kernel
 * acts on it (see add_stashed). `a` are the first three arguments. */
static __always_inline int enter_common(__u64 nr, unsigned long a0, unsigned long a1,
					unsigned long a2)
{
	__u32 zero = 0;
	struct tl_stash *st = bpf_map_lookup_elem(&stash_scratch, &zero);
	if (!st)
		return 0;
	st->nr = nr;
	long n = 0;
	switch (nr) {
	case 2:  /* open */
	case 85: /* creat */
		n = bpf_probe_read_user_str(st->data, MAX_STR, (void *)a0) - 1;
		break;
	case 257: /* openat */
	case 437: /* openat2 */
		n = bpf_probe_read_user_str(st->data, MAX_STR, (void *)a1) - 1;
		break;
	case 42: { /* connect */
		__u64 len = a2 > 128 ? 128 : a2;
		if (len > 0 && bpf_probe_read_user(st->data, len & 255, (void *)a1) == 0)
			n = len;
		break;
	}
	default:
		return 0;
	}
	st->len = n > 0 ? n : 0;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	bpf_map_update_elem(&stash, &tid, st, BPF_ANY);
	return 0;
}

/* Raw hooks: every syscall enters here; only those flagged ON_ENTER go on. */
SEC("raw_tracepoint/sys_enter")
int tl_sys_enter(unsigned long long *ctx)
{
	__u64 nr = ctx[1];
	if (nr >= MAX_SYSCALLS)
		return 0;
	__u32 key = nr;
	__u8 *on = bpf_map_lookup_elem(&interesting, &key);
	if (!on || !(*on & ON_ENTER) || is_self() || in_compat_syscall())
		return 0;
	struct pt_regs r = {};
	bpf_probe_read_kernel(&r, sizeof(r), (void *)ctx[0]);
	return enter_common(nr, r.di, r.si, r.dx);
}

/* Syscall tracepoints: attached to sys_enter_NAME of exactly the syscalls that need it. The
 * arguments come from the saved registers: a sys_enter record holds only as many as the
 * syscall takes, and the kernel refuses to attach a program that reads past that (creat
 * has two). */
SEC("tracepoint/syscalls/tl_tp_sys_enter")
int tl_tp_sys_enter(struct tl_tp_enter *ctx)
{
	if (is_self())
		return 0;
	struct pt_regs r = {};
	bpf_probe_read_kernel(&r, sizeof(r),
			      (void *)bpf_task_pt_regs(bpf_get_current_task_btf()));
	return enter_common((__u32)ctx->nr, r.di, r.si, r.dx);
}

/* --- process lifecycle ------------------------------------------------------------------ */

/* pid->numbers[level]. `numbers` is a flexible array, which CO-RE cannot index: relocate
 * only its offset and index by hand (struct upid is an int and a pointer everywhere). */
static __always_inline struct upid upid_at(struct pid *pid, unsigned int level)
{
	struct upid up = {};
	if (!pid)
		return up;
	void *base = (void *)pid + bpf_core_field_offset(struct pid, numbers);
	bpf_probe_read_kernel(&up, sizeof(up), base + (level & 7) * sizeof(struct upid));
	return up;
}

SEC("raw_tracepoint/sched_process_exec")
int tl_exec(unsigned long long *ctx)
{
	if (is_self())
		return 0;
	struct task_struct *task = (void *)ctx[0];
	struct linux_binprm *bprm = (void *)ctx[2];
	struct tl_scratch *s = begin(TL_KIND_EXEC, 0);
	if (!s)
		return 0;

	struct tl_exec e = {};
	e.ppid = BPF_CORE_READ(task, real_parent, tgid);
	const struct cred *c = BPF_CORE_READ(task, cred);
	e.uid = BPF_CORE_READ(c, uid.val);
	e.gid = BPF_CORE_READ(c, gid.val);
	e.euid = BPF_CORE_READ(c, euid.val);
	e.egid = BPF_CORE_READ(c, egid.val);
	BPF_CORE_READ_INTO(&e.cap_permitted, c, cap_permitted);
	BPF_CORE_READ_INTO(&e.cap_effective, c, cap_effective);
	e.loginuid = (__u32)-1;
	if (bpf_core_field_exists(task->loginuid))
		e.loginuid = BPF_CORE_READ(task, loginuid.val);
	struct tty_struct *tty = BPF_CORE_READ(task, signal, tty);
	if (tty) {
		__u32 major = BPF_CORE_READ(tty, driver, major);
		__u32 minor = BPF_CORE_READ(tty, driver, minor_start) + BPF_CORE_READ(tty, index);
		e.tty = (major << 20) | minor;
	}
	e.sid = upid_at(BPF_CORE_READ(task, signal, pids[PIDTYPE_SID]), 0).nr;
	struct pid *tp = BPF_CORE_READ(task, thread_pid);
	unsigned int level = BPF_CORE_READ(tp, level);
	struct upid up = upid_at(tp, level);
	e.vpid = up.nr;
	e.pid_ns = BPF_CORE_READ(up.ns, ns.inum);
	e.vpgid = upid_at(BPF_CORE_READ(task, signal, pids[PIDTYPE_PGID]), level).nr;
	e.mnt_ns = BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
	e.net_ns = BPF_CORE_READ(task, nsproxy, net_ns, ns.inum);
	e.start_boot_ns = BPF_CORE_READ(task, start_boottime);
	struct file *exe = BPF_CORE_READ(bprm, file);
	e.exe_ino = BPF_CORE_READ(exe, f_inode, i_ino);
	e.exe_nlink = BPF_CORE_READ(exe, f_inode, i_nlink);

	__u32 off = sizeof(struct tl_header);
	off = add_kernel_bytes(s, off, &e, sizeof(e));
	off = add_kernel_str(s, off, BPF_CORE_READ(bprm, filename));
	struct mm_struct *mm = BPF_CORE_READ(task, mm);
	__u64 arg_start = BPF_CORE_READ(mm, arg_start);
	__u64 arg_end = BPF_CORE_READ(mm, arg_end);
	off = add_user_bytes(s, off, (void *)arg_start, arg_end > arg_start ? arg_end - arg_start : 0);
	off = add_kernel_str(s, off, BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, name));
	off = add_kernel_str(s, off, BPF_CORE_READ(exe, f_path.dentry, d_name.name));
	char comm[16] = {};
	bpf_get_current_comm(comm, sizeof(comm));
	off = add_kernel_bytes(s, off, comm, sizeof(comm));
	emit(s, off);
	return 0;
}

SEC("raw_tracepoint/sched_process_fork")
int tl_fork(unsigned long long *ctx)
{
	if (is_self())
		return 0;
	struct task_struct *parent = (void *)ctx[0];
	struct task_struct *child = (void *)ctx[1];
	struct tl_fork f = {};
	f.child_tid = BPF_CORE_READ(child, pid);
	f.child_pid = BPF_CORE_READ(child, tgid);
	f.parent_tid = BPF_CORE_READ(parent, pid);
	f.parent_pid = BPF_CORE_READ(parent, tgid);
	if (f.child_pid == f.parent_pid)
		return 0; /* a new thread: the process table is per process */
	f.start_boot_ns = BPF_CORE_READ(child, start_boottime);
	struct tl_scratch *s = begin(TL_KIND_FORK, 0);
	if (!s)
		return 0;
	__u32 off = add_kernel_bytes(s, sizeof(struct tl_header), &f, sizeof(f));
	emit(s, off);
	return 0;
}

SEC("raw_tracepoint/sched_process_exit")
int tl_exit(unsigned long long *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	if ((__u32)id != (id >> 32) || is_self())
		return 0; /* only the thread group leader ends the process entry */
	struct tl_scratch *s = begin(TL_KIND_EXIT, 0);
	if (!s)
		return 0;
	emit(s, sizeof(struct tl_header));
	return 0;
}
