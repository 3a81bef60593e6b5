//! Outputs against real peers on loopback: an HTTP server that is down, then up, then failing;
//! a syslog UDP socket; rotated files.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tripline_event::Priority;
use tripline_respond::config::OutputConfig;
use tripline_respond::{deliver, sinks};
use tripline_store::{Config, NewFinding, Store};

/// A minimal HTTP/1.1 server: records each request body; answers 500 to the first `fail` ones.
struct Peer {
    bodies: Arc<Mutex<Vec<(String, Value)>>>,
    stop: Arc<AtomicBool>,
}

fn serve(listener: TcpListener, fail: usize) -> Peer {
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let (b, s) = (bodies.clone(), stop.clone());
    let seen = AtomicUsize::new(0);
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        while !s.load(Ordering::Relaxed) {
            match listener.accept() {
                Ok((conn, _)) => {
                    conn.set_nonblocking(false).unwrap();
                    handle(conn, &b, &seen, fail);
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    });
    Peer { bodies, stop }
}

fn handle(conn: TcpStream, bodies: &Mutex<Vec<(String, Value)>>, seen: &AtomicUsize, fail: usize) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let path = request_line.split(' ').nth(1).unwrap_or("").to_string();
        let mut len = 0;
        loop {
            let mut h = String::new();
            reader.read_line(&mut h).unwrap();
            if h == "\r\n" || h.is_empty() {
                break;
            }
            if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; len];
        reader.read_exact(&mut body).unwrap();
        let n = seen.fetch_add(1, Ordering::SeqCst);
        let mut w = &conn;
        if n < fail {
            w.write_all(b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n")
                .unwrap();
        } else {
            bodies
                .lock()
                .unwrap()
                .push((path, serde_json::from_slice(&body).unwrap()));
            w.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                .unwrap();
        }
    }
}

fn findings(n: usize) -> Vec<NewFinding> {
    (0..n)
        .map(|i| {
            let mut f = NewFinding::new(
                "Write below etc",
                Priority::Error,
                "syscall",
                &format!("file /etc/f{i} written"),
            );
            f.fields
                .insert("fd.name".into(), format!("/etc/f{i}").into());
            f
        })
        .collect()
}

fn store(dir: &tempfile::TempDir, out: &OutputConfig) -> Store {
    let url = dir.path().join("s.db").display().to_string();
    let mut s = Store::open_with(
        &url,
        Config {
            rate_per_minute: 0,
            ..Config::default()
        },
    )
    .unwrap();
    s.route(out.route());
    s
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out: {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_webhook_that_is_down_then_back_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // Reserve a port, then close it: the webhook is down.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = OutputConfig::from_flag(&format!("webhook=http://127.0.0.1:{port}/hook")).unwrap();
    let mut s = store(&dir, &cfg);
    s.ingest_batch(&findings(40)).unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let worker = {
        let store = Store::open(&dir.path().join("s.db").display().to_string()).unwrap();
        let sink = sinks::build(&cfg).unwrap();
        let stop = stop.clone();
        std::thread::spawn(move || {
            deliver::run(
                store,
                "webhook".into(),
                sink,
                Duration::from_millis(20),
                Duration::from_millis(200),
                stop,
                &mut |e| eprintln!("{e}"),
            )
        })
    };
    // While it is down, the failures are recorded and nothing is marked delivered.
    wait_for("a failed attempt", || {
        let h = s.outbox_health().unwrap();
        h.first().is_some_and(|h| h.retrying > 0)
    });
    let h = s.outbox_health().unwrap();
    assert_eq!((h[0].pending, h[0].delivered), (40, 0));
    assert!(h[0].last_error.as_deref().unwrap().contains("127.0.0.1"));
    // More findings arrive during the outage.
    s.ingest_batch(&findings(60)[40..]).unwrap();

    // Back up, but failing its first 5 requests with 500.
    let peer = serve(TcpListener::bind(("127.0.0.1", port)).unwrap(), 5);
    wait_for("all 60 delivered", || {
        s.outbox_health().unwrap()[0].delivered == 60
    });
    stop.store(true, Ordering::Relaxed);
    worker.join().unwrap();
    peer.stop.store(true, Ordering::Relaxed);

    let bodies = peer.bodies.lock().unwrap();
    let mut per_file: BTreeMap<String, usize> = BTreeMap::new();
    for (path, b) in bodies.iter() {
        assert_eq!(path, "/hook");
        *per_file
            .entry(b["fields"]["fd.name"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    // Every finding arrived; at least once, and in this run exactly once.
    assert_eq!(per_file.len(), 60);
    assert!(per_file.values().all(|&n| n == 1), "{per_file:?}");
}

#[test]
fn falcosidekick_slack_and_alertmanager_bodies() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let peer = serve(listener, 0);
    let mut f = NewFinding::new(
        "Terminal shell in container",
        Priority::Notice,
        "syscall",
        "A shell was spawned",
    );
    f.hostname = "node-1".into();
    f.tags = vec!["shell".into()];
    f.fields.insert("proc.name".into(), "bash".into());
    f.fields.insert("container.id".into(), "abc123".into());
    for flag in ["falcosidekick", "slack", "alertmanager"] {
        let dir = tempfile::tempdir().unwrap();
        let cfg = OutputConfig::from_flag(&format!("{flag}={base}/{flag}")).unwrap();
        let mut s = store(&dir, &cfg);
        s.ingest(&f).unwrap();
        let mut sink = sinks::build(&cfg).unwrap();
        let pass =
            deliver::deliver_due(&mut s, flag, sink.as_mut(), 10, Duration::from_secs(1)).unwrap();
        assert_eq!(pass.delivered, 1, "{flag}");
    }
    peer.stop.store(true, Ordering::Relaxed);
    let bodies = peer.bodies.lock().unwrap();
    let by_path: BTreeMap<&str, &Value> = bodies.iter().map(|(p, b)| (p.as_str(), b)).collect();
    let falco = by_path["/falcosidekick"];
    assert_eq!(falco["rule"], "Terminal shell in container");
    assert_eq!(falco["priority"], "Notice");
    assert_eq!(falco["output_fields"]["proc.name"], "bash");
    assert!(falco["output"]
        .as_str()
        .unwrap()
        .ends_with("Notice A shell was spawned"));
    let slack = by_path["/slack"];
    assert!(slack["text"]
        .as_str()
        .unwrap()
        .contains("Terminal shell in container"));
    let am = by_path["/alertmanager/api/v2/alerts"];
    assert_eq!(am[0]["labels"]["alertname"], "Terminal shell in container");
    assert_eq!(am[0]["labels"]["proc_name"], "bash");
    assert_eq!(am[0]["labels"]["container_id"], "abc123");
    assert_eq!(am[0]["annotations"]["summary"], "A shell was spawned");
}

#[test]
fn syslog_over_udp_is_rfc5424() {
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let cfg =
        OutputConfig::from_flag(&format!("syslog=udp://{}", rx.local_addr().unwrap())).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut s = store(&dir, &cfg);
    let mut f = findings(1).remove(0);
    f.hostname = "node-1".into();
    s.ingest(&f).unwrap();
    let mut sink = sinks::build(&cfg).unwrap();
    deliver::deliver_due(&mut s, "syslog", sink.as_mut(), 10, Duration::from_secs(1)).unwrap();
    let mut buf = [0u8; 8192];
    let n = rx.recv(&mut buf).unwrap();
    let line = String::from_utf8_lossy(&buf[..n]);
    // facility 4 (auth) * 8 + severity 3 (Error) = 35.
    assert!(line.starts_with("<35>1 "), "{line}");
    let parts: Vec<&str> = line.splitn(8, ' ').collect();
    assert_eq!(
        (parts[2], parts[3], parts[5]),
        ("node-1", "tripline", "Write_below_etc")
    );
    let json: Value = serde_json::from_str(parts[7]).unwrap();
    assert_eq!(json["rule"], "Write below etc");
}

#[test]
fn files_rotate_and_keep_every_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out/alerts.json");
    let mut sink = sinks::RotatingFile::new(path.clone(), Default::default(), 2_000, 3);
    let mut s = Store::open(":memory:").unwrap();
    let ids: Vec<i64> = s
        .ingest_batch(&findings(20))
        .unwrap()
        .into_iter()
        .map(|r| match r {
            tripline_store::Ingest::New(id) => id,
            other => panic!("{other:?}"),
        })
        .collect();
    let stored: Vec<_> = ids.iter().map(|id| s.get(*id).unwrap().unwrap()).collect();
    use tripline_respond::sinks::Sink;
    sink.deliver(&stored[..10]).unwrap();
    sink.deliver(&stored[10..]).unwrap();
    let mut lines = 0;
    let mut files = 0;
    for name in [
        "alerts.json",
        "alerts.json.1",
        "alerts.json.2",
        "alerts.json.3",
    ] {
        let p = dir.path().join("out").join(name);
        if let Ok(text) = std::fs::read_to_string(&p) {
            files += 1;
            assert!(text.len() <= 2_000, "{name} has {} bytes", text.len());
            for l in text.lines() {
                let v: Value = serde_json::from_str(l).unwrap();
                assert_eq!(v["rule"], "Write below etc");
                lines += 1;
            }
        }
    }
    assert!(files >= 3, "{files} files");
    assert!(!dir.path().join("out/alerts.json.4").exists());
    if files < 4 {
        // Nothing rotated past `keep` yet: every line is there.
        assert_eq!(lines, 20);
    }
    // The newest line is in the live file.
    let live = std::fs::read_to_string(&path).unwrap();
    assert!(live.lines().last().unwrap().contains("/etc/f19"));
}

#[test]
fn bad_output_flags_say_what_is_expected() {
    let e = OutputConfig::from_flag("pagerduty=x").unwrap_err();
    assert!(e.contains("unknown output type 'pagerduty'"), "{e}");
    let e = OutputConfig::from_flag("webhook").unwrap_err();
    assert!(e.contains("needs a URL"), "{e}");
    let cfg = OutputConfig::from_flag("webhook=ftp://x").unwrap();
    let e = sinks::build(&cfg).err().unwrap();
    assert!(e.contains("must start with http://"), "{e}");
    assert_eq!(
        sinks::redact_url("https://hooks.slack.com/services/T0/B0/secret"),
        "https://hooks.slack.com/..."
    );
}
