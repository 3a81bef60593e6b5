//! Kill actions never hit a reused pid (issue 19): a finding records its process's start
//! time with the pid, and the action compares it with what `/proc` says now.

use std::process::{Child, Command};

use tripline_event::{Finding, Priority, ProcessKey};
use tripline_respond::actions::{execute, ActionBinding};
use tripline_store::{Ingest, NewFinding, Store};

fn sleeper() -> Child {
    Command::new("sleep").arg("30").spawn().unwrap()
}

fn alive(pid: u32) -> bool {
    // A reaped child is gone; a zombie still answers kill(0), so check its state too.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            !s.rsplit_once(')')
                .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

/// Stores an alert about `process` the way the pipeline does and runs `kill` on it.
fn kill_through_the_store(process: ProcessKey, dir: &std::path::Path) -> Result<String, String> {
    let alert = Finding {
        rule: "Terminal shell in container".into(),
        priority: Priority::Notice,
        source: "syscall".into(),
        time_ns: 1,
        message: "m".into(),
        output_fields: vec![("proc.pid".into(), process.pid.into())],
        tags: vec![],
        hostname: "h".into(),
        process: Some(process),
    };
    let mut store = Store::open(dir.join("s.db").to_str().unwrap()).unwrap();
    let Ingest::New(id) = store.ingest(&NewFinding::from_alert(&alert)).unwrap() else {
        panic!("stored as new");
    };
    let stored = store.get(id).unwrap().unwrap();
    let binding: ActionBinding =
        serde_yaml::from_str("rule: 'Terminal shell*'\naction: kill").unwrap();
    execute(&binding, &stored)
}

#[test]
fn the_process_of_the_finding_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = sleeper();
    let pid = child.id();
    let boot = tripline_syscall::state::boot_epoch_ns();
    let start_ns = tripline_syscall::process::Process::start_ns_of(pid, boot).unwrap();
    let r = kill_through_the_store(ProcessKey { pid, start_ns }, dir.path());
    assert_eq!(r, Ok(format!("killed pid {pid}")));
    let status = child.wait().unwrap();
    assert!(!status.success(), "{status:?}");
}

#[test]
fn a_reused_pid_is_refused_and_its_process_lives() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = sleeper();
    let pid = child.id();
    let boot = tripline_syscall::state::boot_epoch_ns();
    let now_start = tripline_syscall::process::Process::start_ns_of(pid, boot).unwrap();
    // The finding's process had this pid but started five seconds earlier: it exited and the
    // pid went to the sleeper.
    let recorded = ProcessKey {
        pid,
        start_ns: now_start - 5_000_000_000,
    };
    let err = kill_through_the_store(recorded, dir.path()).unwrap_err();
    assert!(err.contains("now belongs to another process"), "{err}");
    assert!(alive(pid), "the unrelated process must live");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn a_finding_without_start_time_or_process_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    // An exited process: nothing to signal.
    let mut gone = Command::new("true").spawn().unwrap();
    let pid = gone.id();
    gone.wait().unwrap();
    let err = kill_through_the_store(ProcessKey { pid, start_ns: 1 }, dir.path()).unwrap_err();
    assert!(
        err.contains("no longer running") || err.contains("another process"),
        "{err}"
    );

    // Evidence with a pid but no start time (an older finding): refused, process lives.
    let mut child = sleeper();
    let pid = child.id();
    let mut fields = serde_json::Map::new();
    fields.insert("proc.pid".into(), pid.into());
    let stored = tripline_store::StoredFinding {
        id: 1,
        fingerprint: String::new(),
        kind: tripline_store::Kind::Rule,
        rule: "r".into(),
        priority: Priority::Notice,
        source: "syscall".into(),
        hostname: "h".into(),
        entity: String::new(),
        message: String::new(),
        fields,
        tags: vec![],
        location: None,
        first_ns: 0,
        last_ns: 0,
        count: 1,
    };
    let binding: ActionBinding = serde_yaml::from_str("rule: r\naction: kill").unwrap();
    let err = execute(&binding, &stored).unwrap_err();
    assert!(err.contains("no process start time"), "{err}");
    assert!(alive(pid));
    let _ = child.kill();
    let _ = child.wait();
}
