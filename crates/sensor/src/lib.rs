//! Tripline's eBPF sensor.
//!
//! The kernel side (`bpf/sensor.bpf.c`, compiled by `build.rs` with clang against the committed
//! `bpf/vmlinux.h`, CO-RE) uses only tracepoints, raw tracepoints, ring buffers and BTF, so it
//! runs on kernels without kprobes, fentry, tp_btf or BPF LSM. Syscalls are hooked one of two
//! ways ([`Hooks`]):
//!
//! * syscall tracepoints (the default): each syscall the rules need gets its decoder attached
//!   to `syscalls/sys_exit_NAME`; every other syscall runs no BPF at all, which keeps a busy
//!   server's overhead to the cost of the kernel's tracepoint bitmap test;
//! * raw `sys_exit` (fallback, `--every-syscall`): checks a per-syscall switch filled from the
//!   rules and tail-calls the same decoder; every syscall pays for one BPF run.
//!
//! Either way the open family and connect copy their path or address at entry
//! (`sys_enter_NAME`, or raw `sys_enter`), so a thread rewriting the buffer during the call
//! cannot change what is reported, and `sched_process_exec`, `sched_process_fork` and
//! `sched_process_exit` keep the process table.
//!
//! User space ([`Sensor`]) loads the programs with aya, drains the ring buffer, and
//! [`wire::decode`] turns records into [`tripline_syscall`] inputs.
//!
//! ```no_run
//! use std::time::Duration;
//! use tripline_sensor::{wire, Sensor, SensorConfig};
//!
//! let mut sensor = Sensor::start(&SensorConfig::default())?;
//! let boot = tripline_syscall::state::boot_epoch_ns();
//! sensor.poll(Duration::from_millis(100), |bytes| {
//!     if let Ok(wire::Record::Exec(e)) = wire::decode(bytes, boot) {
//!         println!("{} ran {}", e.pid, e.filename);
//!     }
//! });
//! # Ok::<(), tripline_sensor::SensorError>(())
//! ```
#![warn(missing_docs)]

mod loader;
pub mod syscalls;
pub mod wire;

pub use loader::{check_privileges, Hooks, KernelCounters, Sensor, SensorConfig, SensorError};
