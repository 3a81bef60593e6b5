/* Record layout shared by the kernel programs and `src/wire.rs`.
 *
 * Every record in the ring buffer is a `struct tl_header` followed by variable fields, each a
 * little-endian u16 length and that many bytes. Which fields follow depends on `kind` (see
 * wire.rs). Keep both files in step: the Rust decoder refuses to build against another
 * `TL_WIRE_VERSION`, and the wire_layout test checks every offset it reads with offsetof. */
#ifndef TRIPLINE_WIRE_H
#define TRIPLINE_WIRE_H

#define TL_WIRE_VERSION 1

/* Kinds below 1000 are syscall numbers (sys_exit records). */
#define TL_KIND_EXEC 1000 /* sched_process_exec: a successful execve/execveat */
#define TL_KIND_FORK 1001 /* sched_process_fork: a new thread or process */
#define TL_KIND_EXIT 1002 /* sched_process_exit */

/* Per-CPU counters, summed by user space. */
#define TL_CNT_EMITTED 0  /* records written to the ring buffer */
#define TL_CNT_DROP_RINGBUF 1 /* records lost: ring buffer full */
#define TL_CNT_DROP_SCRATCH 2 /* records lost: no scratch buffer (never expected) */
#define TL_CNT_TRUNCATED 3 /* records whose variable fields were cut at the size limit */
#define TL_CNT_DISPATCHED 4 /* sys_exit calls that passed the interesting-syscall check */
#define TL_CNT_COMPAT 5 /* 32-bit (ia32) syscalls seen and not decoded */
#define TL_CNT_MAX 6

/* Flags in tl_header.flags. */
#define TL_FLAG_TRUNCATED 1

struct tl_header {
	__u64 ts_boot_ns; /* bpf_ktime_get_boot_ns() */
	__u64 cgroup_id;  /* cgroup v2 id of the task */
	__s64 ret;        /* syscall return value (0 for sched records) */
	__u64 args[6];    /* raw syscall arguments */
	__u32 tid;
	__u32 pid; /* thread group id */
	__u16 kind;
	__u16 len; /* total record length, header included */
	__u16 flags;
	__u16 pad;
};

/* Socket tuple read from a socket's `struct sock` (fixed-size variable field). */
struct tl_sock {
	__u16 family;   /* AF_INET, AF_INET6, AF_UNIX, ... (0 = not a socket) */
	__u16 protocol; /* IPPROTO_TCP, IPPROTO_UDP, ... */
	__u16 type;     /* SOCK_STREAM, SOCK_DGRAM, ... */
	__u16 lport;    /* host order */
	__u16 rport;    /* host order */
	__u16 pad[3];
	__u8 laddr[16]; /* IPv4 in the first 4 bytes */
	__u8 raddr[16];
};

/* Process facts captured at exec (first variable field of TL_KIND_EXEC records). */
struct tl_exec {
	__u32 ppid;
	__u32 uid; /* real */
	__u32 gid;
	__u32 euid;
	__u32 egid;
	__u32 loginuid;
	__u32 sid;
	__u32 vpid;
	__u32 vpgid;
	__u32 tty; /* (major << 20) | minor, 0 when none */
	__u32 mnt_ns;
	__u32 pid_ns;
	__u32 net_ns;
	__u32 exe_nlink;
	__u64 cap_permitted;
	__u64 cap_effective;
	__u64 start_boot_ns;
	__u64 exe_ino;
};

/* Thread facts captured at fork (first variable field of TL_KIND_FORK records). */
struct tl_fork {
	__u32 child_tid;
	__u32 child_pid;
	__u32 parent_tid;
	__u32 parent_pid;
	__u64 start_boot_ns;
};

#endif
