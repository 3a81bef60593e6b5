//! The reader on the upstream Falco captures, on damaged copies of them, and on its own writer.

use std::io::Read;
use std::path::PathBuf;

use tripline_scap::{Block, FdInfo, FdKind, FdTarget, Reader, ThreadInfo, UserList, Writer};

fn capture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../data/falco/tests/syscall/captures")
        .join(name)
}

fn decompressed(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(capture(name)).unwrap())
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[derive(Debug, Default, PartialEq)]
struct Census {
    events: u64,
    fd_lists: u64,
    threads: u64,
    users: usize,
    opens: u64,
}

fn census(mut r: Reader) -> Result<Census, tripline_scap::ScapError> {
    let mut c = Census::default();
    while let Some(b) = r.next_block()? {
        match b {
            Block::Event(e) => {
                c.events += 1;
                if e.name() == "open" && !e.is_enter() {
                    c.opens += 1;
                }
            }
            Block::Fds { .. } => c.fd_lists += 1,
            Block::Threads(t) => c.threads += t.len() as u64,
            Block::Users(u) => c.users = u.users.len(),
            _ => {}
        }
    }
    Ok(c)
}

#[test]
fn upstream_captures_read_completely() {
    // Block counts from an independent walk of the files (block type and length only).
    for (name, events, fd_lists) in [
        ("cat_write.scap", 345, 73),
        ("empty.scap", 143, 218),
        ("open-multiple-files.scap", 1272, 128),
    ] {
        let c = census(Reader::open(capture(name)).unwrap()).unwrap();
        assert_eq!((c.events, c.fd_lists), (events, fd_lists), "{name}");
        assert!(c.threads > 50 && c.users > 10, "{name}: {c:?}");
    }
}

#[test]
fn interface_lists_decode() {
    for name in ["cat_write.scap", "empty.scap"] {
        let mut r = Reader::open(capture(name)).unwrap();
        let mut names = Vec::new();
        while let Some(b) = r.next_block().unwrap() {
            if let Block::Interfaces(list) = b {
                for i in list {
                    if i.name == "lo" {
                        assert!(i.addr.is_loopback(), "{name}: {i:?}");
                    }
                    names.push(i.name);
                }
            }
        }
        assert!(names.iter().any(|n| n == "lo"), "{name}: {names:?}");
    }
}

#[test]
fn open_exit_parameters_decode() {
    let mut r = Reader::open(capture("cat_write.scap")).unwrap();
    let mut names = Vec::new();
    while let Some(b) = r.next_block().unwrap() {
        if let Block::Event(e) = b {
            if e.name() == "open" && !e.is_enter() {
                assert_eq!(e.int("fd"), Some(3));
                names.push(String::from_utf8(e.text("name").unwrap().to_vec()).unwrap());
            }
        }
    }
    assert_eq!(
        names,
        [
            "/etc/ld.so.cache",
            "/lib/x86_64-linux-gnu/libc.so.6",
            "/usr/lib/locale/locale-archive",
            "/dev/null"
        ]
    );
}

#[test]
fn plain_and_gzip_read_the_same() {
    let plain = decompressed("cat_write.scap");
    let a = census(Reader::new(std::io::Cursor::new(plain)).unwrap()).unwrap();
    let b = census(Reader::open(capture("cat_write.scap")).unwrap()).unwrap();
    assert_eq!(a, b);
}

#[test]
fn truncation_anywhere_is_an_error_with_its_offset_never_a_panic() {
    let full = decompressed("open-multiple-files.scap");
    let whole = census(Reader::new(std::io::Cursor::new(full.clone())).unwrap()).unwrap();
    // Every cut inside the last events, and a spread of cuts across the metadata.
    let cuts: Vec<usize> = (1..full.len())
        .step_by(997)
        .chain(full.len() - 300..full.len())
        .collect();
    for cut in cuts {
        let mut r = Reader::new(std::io::Cursor::new(full[..cut].to_vec())).unwrap();
        let mut events = 0;
        let err = loop {
            match r.next_block() {
                Ok(Some(Block::Event(_))) => events += 1,
                Ok(Some(_)) => {}
                Ok(None) => break None,
                Err(e) => break Some(e),
            }
        };
        // Events before the cut were all delivered; a cut on a block boundary reads clean.
        assert!(events <= whole.events);
        if let Some(e) = err {
            let text = e.to_string();
            assert!(text.starts_with("byte "), "{cut}: {text}");
            assert!(text.contains("truncated"), "{cut}: {text}");
        }
    }
}

#[test]
fn corrupt_bytes_never_panic() {
    let full = decompressed("cat_write.scap");
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..400 {
        let mut data = full.clone();
        for _ in 0..4 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let at = (seed as usize) % data.len();
            data[at] = (seed >> 32) as u8;
        }
        if let Ok(mut r) = Reader::new(std::io::Cursor::new(data)) {
            while let Ok(Some(_)) = r.next_block() {}
        }
    }
}

#[test]
fn not_a_capture_says_so() {
    let err = Reader::new(std::io::Cursor::new(b"{\"kind\":\"Event\"}\n".to_vec()))
        .unwrap()
        .next_block()
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a scap capture"), "{err}");
}

#[test]
fn writer_output_reads_back() {
    let threads = vec![ThreadInfo {
        tid: 100,
        pid: 100,
        ptid: 1,
        sid: 100,
        vpgid: 100,
        comm: "bash".into(),
        exe: "/bin/bash".into(),
        exepath: "/usr/bin/bash".into(),
        args: vec!["-c".into(), "true".into()],
        cwd: "/root".into(),
        fdlimit: 1024,
        uid: 0,
        gid: 0,
        vtid: 100,
        vpid: 100,
        cgroups: vec!["cpu=/".into()],
        root: "/".into(),
        loginuid: 1000,
        cap_permitted: 7,
        cap_effective: 3,
        ..ThreadInfo::default()
    }];
    let fds = vec![
        FdInfo {
            fd: 3,
            ino: 9,
            target: FdTarget::File {
                path: "/etc/passwd".into(),
                flags: 1,
            },
        },
        FdInfo {
            fd: 4,
            ino: 0,
            target: FdTarget::Ipv4Server {
                ip: "0.0.0.0".parse().unwrap(),
                port: 22,
                proto: 6,
            },
        },
        FdInfo {
            fd: 5,
            ino: 0,
            target: FdTarget::Other {
                kind: FdKind::Eventpoll,
                name: String::new(),
            },
        },
    ];
    let users = UserList {
        users: vec![(0, 0, "root".into(), "/root".into(), "/bin/bash".into())],
        groups: vec![(0, "root".into())],
    };
    let mut w = Writer::new(Vec::new(), "box").unwrap();
    w.threads(&threads).unwrap();
    w.fds(100, &fds).unwrap();
    w.users(&users).unwrap();
    w.event(
        1,
        5,
        100,
        3,
        &[
            &3i64.to_le_bytes(),
            b"/etc/passwd\0",
            &1u32.to_le_bytes(),
            &0u32.to_le_bytes(),
        ],
    )
    .unwrap();
    let bytes = w.finish().unwrap();

    let mut r = Reader::new(std::io::Cursor::new(bytes)).unwrap();
    let mut seen = 0;
    while let Some(b) = r.next_block().unwrap() {
        match b {
            Block::Machine(m) => assert_eq!(m.hostname, "box"),
            Block::Threads(t) => {
                assert_eq!(t, threads);
                seen += 1;
            }
            Block::Fds { tid, fds: got } => {
                assert_eq!((tid, &got), (100, &fds));
                seen += 1;
            }
            Block::Users(u) => {
                assert_eq!(u, users);
                seen += 1;
            }
            Block::Event(e) => {
                assert_eq!((e.cpu, e.ts_ns, e.tid, e.name()), (1, 5, 100, "open"));
                assert_eq!(e.text("name"), Some(&b"/etc/passwd"[..]));
                assert_eq!(e.uint("flags"), Some(1));
                seen += 1;
            }
            _ => {}
        }
    }
    assert_eq!(seen, 4);
}

/// sysdig refuses a whole capture whose process list holds args over 4096 bytes or a path over
/// 1024 ("invalid argslen"), so the writer cuts values to the limits libscap reads.
#[test]
fn writer_cuts_values_to_what_libscap_reads() {
    let long_arg = "a".repeat(30_000);
    let deep_cwd = format!("/{}", "d".repeat(3_000));
    let threads = vec![ThreadInfo {
        tid: 7,
        pid: 7,
        comm: "long".into(),
        args: vec!["-c".into(), long_arg],
        cwd: deep_cwd.clone(),
        ..ThreadInfo::default()
    }];
    let users = UserList {
        users: vec![(1, 1, "u".repeat(400), "/h".into(), "/bin/sh".into())],
        groups: vec![],
    };
    let mut w = Writer::new(Vec::new(), "box").unwrap();
    w.threads(&threads).unwrap();
    w.users(&users).unwrap();
    let bytes = w.finish().unwrap();
    let mut r = Reader::new(std::io::Cursor::new(bytes)).unwrap();
    let mut seen = 0;
    while let Some(b) = r.next_block().unwrap() {
        match b {
            Block::Threads(t) => {
                let joined: usize = t[0].args.iter().map(|a| a.len() + 1).sum();
                assert!(joined <= 4097, "args take {joined} bytes");
                assert_eq!(t[0].args[0], "-c");
                assert!(t[0].args[1].len() > 4000);
                assert_eq!(t[0].cwd, deep_cwd[..1024]);
                seen += 1;
            }
            Block::Users(u) => {
                assert_eq!(u.users[0].2.len(), 255);
                seen += 1;
            }
            _ => {}
        }
    }
    assert_eq!(seen, 2);
}
