//! Sockets that were open before the sensor started: `/proc/PID/fd` names them only as
//! `socket:[INODE]`; the namespace's `/proc/PID/net/{tcp,tcp6,udp,udp6}` tables give each
//! inode its addresses, so `fd.name` of an old connection reads `10.0.0.5:40112->10.0.0.9:443`
//! as it would had the sensor seen the connect.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::fd::{Fd, Role, SockTuple};

/// Socket inode → fd, per network namespace, read once per namespace.
#[derive(Debug, Default)]
pub struct SocketCache {
    by_netns: HashMap<u32, HashMap<u64, Fd>>,
}

impl SocketCache {
    /// The fd of socket `inode` as process `pid` (in network namespace `netns`) sees it.
    pub fn socket(&mut self, pid: u32, netns: u32, inode: u64) -> Option<Fd> {
        self.by_netns
            .entry(netns)
            .or_insert_with(|| read_tables(&format!("/proc/{pid}/net")))
            .get(&inode)
            .cloned()
    }
}

/// All sockets of the namespace `/proc/PID/net` belongs to.
fn read_tables(net: &str) -> HashMap<u64, Fd> {
    let mut rows = Vec::new();
    for (file, family, protocol) in [
        ("tcp", 2u16, 6u16),
        ("tcp6", 10, 6),
        ("udp", 2, 17),
        ("udp6", 10, 17),
    ] {
        if let Ok(text) = std::fs::read_to_string(format!("{net}/{file}")) {
            rows.extend(parse_table(&text, family, protocol));
        }
    }
    // An established TCP socket whose local port some socket listens on was accepted (server
    // side); any other was connected out (client side).
    let listening: std::collections::HashSet<u16> = rows
        .iter()
        .filter(|r| r.listen)
        .map(|r| r.tuple.lport)
        .collect();
    rows.into_iter()
        .map(|r| {
            let role = if r.listen || (r.tuple.protocol == 6 && listening.contains(&r.tuple.lport))
            {
                Role::Server
            } else if r.tuple.connected() {
                Role::Client
            } else {
                Role::Unknown
            };
            (r.inode, Fd::socket(r.tuple, role))
        })
        .collect()
}

struct Row {
    inode: u64,
    tuple: SockTuple,
    listen: bool,
}

/// Rows of one `/proc/net` table: `sl local rem st ... uid timeout inode`.
fn parse_table(text: &str, family: u16, protocol: u16) -> Vec<Row> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (local, lport) = endpoint(f.get(1)?, family)?;
            let (remote, rport) = endpoint(f.get(2)?, family)?;
            let state = u8::from_str_radix(f.get(3)?, 16).ok()?;
            let inode: u64 = f.get(9)?.parse().ok()?;
            (inode != 0).then_some(Row {
                inode,
                tuple: SockTuple {
                    family,
                    protocol,
                    local,
                    lport,
                    remote,
                    rport,
                },
                // TCP_LISTEN is 0x0A; UDP sockets never listen.
                listen: protocol == 6 && state == 0x0A,
            })
        })
        .collect()
}

/// `0100007F:0016` → 127.0.0.1, 22. Addresses are 32-bit words in host byte order.
fn endpoint(s: &str, family: u16) -> Option<(IpAddr, u16)> {
    let (addr, port) = s.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    // Each word is printed as a number in host byte order: its native bytes are the address's.
    let word = |i: usize| -> Option<[u8; 4]> {
        Some(
            u32::from_str_radix(addr.get(i * 8..i * 8 + 8)?, 16)
                .ok()?
                .to_ne_bytes(),
        )
    };
    let ip = if family == 2 {
        IpAddr::V4(Ipv4Addr::from(word(0)?))
    } else {
        let mut b = [0u8; 16];
        for i in 0..4 {
            b[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
        }
        IpAddr::V6(Ipv6Addr::from(b))
    };
    Some((ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_rows_become_named_sockets() {
        let tcp = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:0CEA 00000000:0000 0A 00000000:00000000 00:00000000 00000000   999        0 31337 1 0000000000000000 100 0 0 10 0
   1: 0100007F:0CEA 0100007F:A1B2 01 00000000:00000000 00:00000000 00000000   999        0 31338 1 0000000000000000 20 4 30 10 -1
   2: 0500000A:9C40 0900000A:01BB 01 00000000:00000000 00:00000000 00000000  1000        0 31339 1 0000000000000000 20 4 30 10 -1
";
        let rows = parse_table(tcp, 2, 6);
        assert_eq!(rows.len(), 3);
        assert!(rows[0].listen);
        assert_eq!(rows[0].tuple.local, "127.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(rows[0].tuple.lport, 3306);
        assert_eq!(rows[2].tuple.remote, "10.0.0.9".parse::<IpAddr>().unwrap());
        assert_eq!(rows[2].tuple.rport, 443);
        let tcp6 = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0
";
        let rows = parse_table(tcp6, 10, 6);
        assert_eq!(rows[0].tuple.local, "::1".parse::<IpAddr>().unwrap());
        assert_eq!(rows[0].tuple.lport, 22);
    }

    #[test]
    fn this_process_sees_its_own_connection() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let local = client.local_addr().unwrap().port();
        let fds = read_tables("/proc/self/net");
        let names: Vec<&str> = fds.values().map(|f| f.name.as_str()).collect();
        assert!(
            names.contains(&format!("127.0.0.1:{local}->127.0.0.1:{port}").as_str()),
            "{names:?}"
        );
        assert!(
            names.contains(&format!("127.0.0.1:{port}").as_str()),
            "{names:?}"
        );
    }
}
