//! Listening sockets from /proc/net, with the process holding each (live machine only).

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::{Listener, Options, Snapshot};

pub(super) fn collect(opts: &Options, snap: &mut Snapshot) {
    if !opts.is_live() {
        return; // an image has no sockets
    }
    let owners = socket_owners();
    for (file, proto, v6) in [
        ("/proc/net/tcp", "tcp", false),
        ("/proc/net/tcp6", "tcp", true),
        ("/proc/net/udp", "udp", false),
        ("/proc/net/udp6", "udp", true),
    ] {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 10 {
                continue;
            }
            // TCP LISTEN is 0A; a bound, unconnected UDP socket is 07.
            let listening = if proto == "tcp" {
                f[3] == "0A"
            } else {
                f[3] == "07"
            };
            if !listening {
                continue;
            }
            let Some((addr, port)) = parse_addr(f[1], v6) else {
                continue;
            };
            let inode: u64 = f[9].parse().unwrap_or(0);
            snap.listeners.insert(Listener {
                protocol: proto.to_string(),
                address: addr,
                port,
                process: owners.get(&inode).cloned().unwrap_or_default(),
            });
        }
    }
}

/// `0100007F:0016` (IPv4) or 32 hex digits (IPv6, four little-endian words) and a port.
pub(crate) fn parse_addr(text: &str, v6: bool) -> Option<(String, u16)> {
    let (a, p) = text.split_once(':')?;
    let port = u16::from_str_radix(p, 16).ok()?;
    let addr = if v6 {
        if a.len() != 32 {
            return None;
        }
        let mut b = [0u8; 16];
        for w in 0..4 {
            let word = u32::from_str_radix(&a[w * 8..w * 8 + 8], 16).ok()?;
            b[w * 4..w * 4 + 4].copy_from_slice(&word.to_le_bytes());
        }
        Ipv6Addr::from(b).to_string()
    } else {
        Ipv4Addr::from(u32::from_str_radix(a, 16).ok()?.to_le_bytes()).to_string()
    };
    Some((addr, port))
}

/// Socket inode → command name of a process holding it.
fn socket_owners() -> HashMap<u64, String> {
    let mut out = HashMap::new();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return out;
    };
    for p in procs.flatten() {
        let name = p.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .map(|c| c.trim().to_string())
            .unwrap_or_default();
        for fd in fds.flatten() {
            let Ok(target) = std::fs::read_link(fd.path()) else {
                continue;
            };
            let t = target.to_string_lossy();
            if let Some(inode) = t
                .strip_prefix("socket:[")
                .and_then(|r| r.strip_suffix(']'))
                .and_then(|i| i.parse().ok())
            {
                out.entry(inode).or_insert_with(|| comm.clone());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::parse_addr;

    #[test]
    fn proc_net_addresses() {
        assert_eq!(
            parse_addr("0100007F:0016", false),
            Some(("127.0.0.1".into(), 22))
        );
        assert_eq!(
            parse_addr("00000000:1F90", false),
            Some(("0.0.0.0".into(), 8080))
        );
        assert_eq!(
            parse_addr("00000000000000000000000000000000:0050", true),
            Some(("::".into(), 80))
        );
        assert_eq!(
            parse_addr("00000000000000000000000001000000:0050", true),
            Some(("::1".into(), 80))
        );
    }
}
