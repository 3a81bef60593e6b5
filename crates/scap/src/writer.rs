//! The capture writer: a section header, machine info, the process and fd lists, then events.
//!
//! Blocks use the layouts every reader since 2021 accepts (process list v9, fd list v2, event
//! blocks with `nparams`), so `sysdig -r` and `falco -e` open the files.

use std::io::Write;

use crate::block::{EV_V2, FDL_V2, MI, PL_V9, SHB, SHB_MAGIC, UL_V2};
use crate::metadata::{FdInfo, FdTarget, ThreadInfo, UserList};

/// Writes a capture to any byte sink (wrap it in a gzip encoder for `.scap.gz`).
///
/// ```
/// let mut out = Vec::new();
/// let mut w = tripline_scap::Writer::new(&mut out, "host").unwrap();
/// w.event(0, 1_700_000_000_000_000_000, 42, 4, &[&3i64.to_le_bytes()]).unwrap();
/// assert_eq!(w.events(), 1);
/// w.finish().unwrap();
/// assert_eq!(&out[..4], &[0x0a, 0x0d, 0x0d, 0x0a]);
/// ```
pub struct Writer<W: Write> {
    out: W,
    scratch: Vec<u8>,
    events: u64,
}

impl<W: Write> std::fmt::Debug for Writer<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("events", &self.events)
            .finish()
    }
}

/// Longest path, comm or exe a libscap reader accepts in the lists (`SCAP_MAX_PATH_SIZE`).
const MAX_PATH: usize = 1024;
/// Longest NUL-joined args, env or cgroups a libscap reader accepts (`SCAP_MAX_ARGS_SIZE`);
/// sysdig refuses the whole file ("invalid argslen") past it, so longer values are cut.
const MAX_ARGS: usize = 4096;
/// Longest user or group name, home or shell a libscap reader accepts (`MAX_CREDENTIALS_STR_LEN` - 1).
const MAX_CREDENTIAL: usize = 255;

fn put_str16(b: &mut Vec<u8>, s: &[u8], limit: usize) {
    let s = &s[..s.len().min(limit)];
    b.extend_from_slice(&(s.len() as u16).to_le_bytes());
    b.extend_from_slice(s);
}

fn nul_joined(items: &[String]) -> Vec<u8> {
    let mut b = Vec::new();
    for i in items {
        b.extend_from_slice(i.as_bytes());
        b.push(0);
    }
    b
}

impl<W: Write> Writer<W> {
    /// Starts a capture: section header and machine info.
    pub fn new(out: W, hostname: &str) -> std::io::Result<Writer<W>> {
        let mut w = Writer {
            out,
            scratch: Vec::with_capacity(4096),
            events: 0,
        };
        let mut b = Vec::new();
        b.extend_from_slice(&SHB_MAGIC.to_le_bytes());
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&2u16.to_le_bytes());
        b.extend_from_slice(&(-1i64).to_le_bytes());
        w.block(SHB, &b)?;
        let mut m = Vec::new();
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
        m.extend_from_slice(&cpus.to_le_bytes());
        m.extend_from_slice(&0u64.to_le_bytes());
        m.extend_from_slice(&(64u64 << 10).to_le_bytes());
        let mut name = [0u8; 128];
        let h = hostname.as_bytes();
        let n = h.len().min(127);
        name[..n].copy_from_slice(&h[..n]);
        m.extend_from_slice(&name);
        m.extend_from_slice(&[0u8; 32]);
        w.block(MI, &m)?;
        Ok(w)
    }

    /// Events written so far.
    pub fn events(&self) -> u64 {
        self.events
    }

    fn block(&mut self, kind: u32, body: &[u8]) -> std::io::Result<()> {
        let pad = (4 - body.len() % 4) % 4;
        let total = (8 + body.len() + pad + 4) as u32;
        self.out.write_all(&kind.to_le_bytes())?;
        self.out.write_all(&total.to_le_bytes())?;
        self.out.write_all(body)?;
        self.out.write_all(&[0u8; 3][..pad])?;
        self.out.write_all(&total.to_le_bytes())
    }

    /// The threads alive at the start (one process-list block).
    pub fn threads(&mut self, threads: &[ThreadInfo]) -> std::io::Result<()> {
        let mut b = Vec::new();
        for t in threads {
            let mut e = Vec::new();
            for v in [t.tid, t.pid, t.ptid, t.sid, t.vpgid] {
                e.extend_from_slice(&v.to_le_bytes());
            }
            put_str16(&mut e, t.comm.as_bytes(), MAX_PATH);
            put_str16(&mut e, t.exe.as_bytes(), MAX_PATH);
            put_str16(&mut e, t.exepath.as_bytes(), MAX_PATH);
            put_str16(&mut e, &nul_joined(&t.args), MAX_ARGS);
            put_str16(&mut e, t.cwd.as_bytes(), MAX_PATH);
            e.extend_from_slice(&t.fdlimit.to_le_bytes());
            e.extend_from_slice(&t.flags.to_le_bytes());
            e.extend_from_slice(&t.uid.to_le_bytes());
            e.extend_from_slice(&t.gid.to_le_bytes());
            e.extend_from_slice(&[0u8; 4 * 3 + 8 * 2]);
            put_str16(&mut e, b"", MAX_ARGS);
            e.extend_from_slice(&t.vtid.to_le_bytes());
            e.extend_from_slice(&t.vpid.to_le_bytes());
            put_str16(&mut e, &nul_joined(&t.cgroups), MAX_ARGS);
            put_str16(&mut e, t.root.as_bytes(), MAX_PATH);
            // The pre-libs-0.10 tail (29 bytes), which old and new readers both accept.
            e.extend_from_slice(&t.loginuid.to_le_bytes());
            e.push(0);
            e.extend_from_slice(&0u64.to_le_bytes());
            e.extend_from_slice(&t.cap_permitted.to_le_bytes());
            e.extend_from_slice(&t.cap_effective.to_le_bytes());
            b.extend_from_slice(&((e.len() + 4) as u32).to_le_bytes());
            b.extend_from_slice(&e);
        }
        self.block(PL_V9, &b)
    }

    /// The fds open in one thread at the start.
    pub fn fds(&mut self, tid: i64, fds: &[FdInfo]) -> std::io::Result<()> {
        let mut b = Vec::new();
        b.extend_from_slice(&tid.to_le_bytes());
        for f in fds {
            let mut e = Vec::new();
            e.extend_from_slice(&f.fd.to_le_bytes());
            e.extend_from_slice(&f.ino.to_le_bytes());
            match &f.target {
                FdTarget::File { path, flags } => {
                    e.push(16);
                    e.extend_from_slice(&flags.to_le_bytes());
                    put_str16(&mut e, path.as_bytes(), MAX_PATH);
                }
                FdTarget::Directory(p) => {
                    e.push(2);
                    put_str16(&mut e, p.as_bytes(), MAX_PATH);
                }
                FdTarget::Ipv4 {
                    sip,
                    dip,
                    sport,
                    dport,
                    proto,
                } => {
                    e.push(3);
                    e.extend_from_slice(&sip.octets());
                    e.extend_from_slice(&dip.octets());
                    e.extend_from_slice(&sport.to_le_bytes());
                    e.extend_from_slice(&dport.to_le_bytes());
                    e.push(*proto);
                }
                FdTarget::Ipv4Server { ip, port, proto } => {
                    e.push(5);
                    e.extend_from_slice(&ip.octets());
                    e.extend_from_slice(&port.to_le_bytes());
                    e.push(*proto);
                }
                FdTarget::Ipv6 {
                    sip,
                    dip,
                    sport,
                    dport,
                    proto,
                } => {
                    e.push(4);
                    e.extend_from_slice(&sip.octets());
                    e.extend_from_slice(&dip.octets());
                    e.extend_from_slice(&sport.to_le_bytes());
                    e.extend_from_slice(&dport.to_le_bytes());
                    e.push(*proto);
                }
                FdTarget::Ipv6Server { ip, port, proto } => {
                    e.push(6);
                    e.extend_from_slice(&ip.octets());
                    e.extend_from_slice(&port.to_le_bytes());
                    e.push(*proto);
                }
                FdTarget::Unix { source, dest, path } => {
                    e.push(8);
                    e.extend_from_slice(&source.to_le_bytes());
                    e.extend_from_slice(&dest.to_le_bytes());
                    put_str16(&mut e, path.as_bytes(), MAX_PATH);
                }
                FdTarget::Other { kind, name } => {
                    e.push(kind.code());
                    if kind.code() != 0 {
                        put_str16(&mut e, name.as_bytes(), MAX_PATH);
                    }
                }
            }
            b.extend_from_slice(&((e.len() + 4) as u32).to_le_bytes());
            b.extend_from_slice(&e);
        }
        self.block(FDL_V2, &b)
    }

    /// Users and groups.
    pub fn users(&mut self, users: &UserList) -> std::io::Result<()> {
        let mut b = Vec::new();
        for (uid, gid, name, home, shell) in &users.users {
            let mut e = vec![0u8];
            e.extend_from_slice(&uid.to_le_bytes());
            e.extend_from_slice(&gid.to_le_bytes());
            put_str16(&mut e, name.as_bytes(), MAX_CREDENTIAL);
            put_str16(&mut e, home.as_bytes(), MAX_CREDENTIAL);
            put_str16(&mut e, shell.as_bytes(), MAX_CREDENTIAL);
            b.extend_from_slice(&((e.len() + 4) as u32).to_le_bytes());
            b.extend_from_slice(&e);
        }
        for (gid, name) in &users.groups {
            let mut e = vec![1u8];
            e.extend_from_slice(&gid.to_le_bytes());
            put_str16(&mut e, name.as_bytes(), MAX_CREDENTIAL);
            b.extend_from_slice(&((e.len() + 4) as u32).to_le_bytes());
            b.extend_from_slice(&e);
        }
        self.block(UL_V2, &b)
    }

    /// One event: type `code` with raw little-endian parameters in table order.
    pub fn event(
        &mut self,
        cpu: u16,
        ts_ns: u64,
        tid: u64,
        code: u16,
        params: &[&[u8]],
    ) -> std::io::Result<()> {
        let mut b = std::mem::take(&mut self.scratch);
        b.clear();
        let params_len: usize = params.iter().map(|p| p.len().min(u16::MAX as usize)).sum();
        let len = 26 + 2 * params.len() + params_len;
        b.extend_from_slice(&cpu.to_le_bytes());
        b.extend_from_slice(&ts_ns.to_le_bytes());
        b.extend_from_slice(&tid.to_le_bytes());
        b.extend_from_slice(&(len as u32).to_le_bytes());
        b.extend_from_slice(&code.to_le_bytes());
        b.extend_from_slice(&(params.len() as u32).to_le_bytes());
        for p in params {
            b.extend_from_slice(&(p.len().min(u16::MAX as usize) as u16).to_le_bytes());
        }
        for p in params {
            b.extend_from_slice(&p[..p.len().min(u16::MAX as usize)]);
        }
        let r = self.block(EV_V2, &b);
        self.scratch = b;
        self.events += 1;
        r
    }

    /// Flushes and returns the sink.
    pub fn finish(mut self) -> std::io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}
