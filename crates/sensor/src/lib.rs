//! Tripline's eBPF sensor.
//!
//! The kernel side (`bpf/sensor.bpf.c`, compiled by `build.rs` with clang against the committed
//! `bpf/vmlinux.h`, CO-RE) uses only raw tracepoints, ring buffers and BTF, so it runs on
//! kernels without kprobes, fentry, tp_btf or BPF LSM:
//!
//! * `sys_exit` checks a per-syscall switch (filled from the loaded rules) and tail-calls the
//!   decoder for that syscall; unused syscalls cost only that check;
//! * `sys_enter` copies the path of the open family and connect's address before the kernel
//!   acts on it, so a thread rewriting the buffer during the call cannot change what is
//!   reported;
//! * `sched_process_exec`, `sched_process_fork` and `sched_process_exit` keep the process table.
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

pub use loader::{check_privileges, KernelCounters, Sensor, SensorConfig, SensorError};
