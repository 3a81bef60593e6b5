//! The act stage from the command line: replays into a store, outputs that survive `kill -9`,
//! and `tripline gate` in SARIF (validated against the SARIF 2.1.0 schema), JUnit and JSON.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

const EVENTS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../data/falco/tests/k8s_audit/events"
);

fn tripline(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tripline"))
        .args(args)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn replay_into(store: &str) -> Output {
    let out = tripline(&["replay", "--store", store, EVENTS]);
    assert!(out.status.success(), "{}", stderr(&out));
    out
}

#[test]
fn replays_fold_into_the_store_and_gate_on_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.db").display().to_string();
    let first = replay_into(&store);
    assert!(
        stderr(&first).contains("Store: 25 new findings, 0 folded"),
        "{}",
        stderr(&first)
    );
    // The same events again are the same findings: folded, counted, not stored twice.
    let second = replay_into(&store);
    assert!(
        stderr(&second).contains("Store: 0 new findings, 25 folded"),
        "{}",
        stderr(&second)
    );
    let mut s = tripline_store::Store::open(&store).unwrap();
    let all = s.query(&tripline_store::Query::default()).unwrap();
    assert_eq!(all.len(), 25);
    assert!(all.iter().all(|f| f.count == 2));

    let gate = tripline(&["gate", "--store", &store]);
    assert_eq!(gate.status.code(), Some(3), "{}", stderr(&gate));
    let text = String::from_utf8_lossy(&gate.stdout);
    assert!(
        text.ends_with("FAIL: 11 findings at or above Warning (25 in the window)\n"),
        "{text}"
    );
    let strict = tripline(&["gate", "--store", &store, "--max-priority", "critical"]);
    assert_eq!(strict.status.code(), Some(0), "{}", stderr(&strict));
    // The audit events are from 2018: a 24 h window holds none of them.
    let recent = tripline(&["gate", "--store", &store, "--since", "24h"]);
    assert_eq!(recent.status.code(), Some(0));
    let bad = tripline(&["gate", "--store", &store, "--max-priority", "loud"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("unknown priority 'loud'"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn gate_reads_findings_files_like_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let alerts = tripline(&["replay", "--format", "json", EVENTS]);
    assert!(alerts.status.success());
    let file = dir.path().join("alerts.json");
    std::fs::write(&file, &alerts.stdout).unwrap();
    let gate = tripline(&[
        "gate",
        "--findings",
        file.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(gate.status.code(), Some(3), "{}", stderr(&gate));
    let v: Value = serde_json::from_slice(&gate.stdout).unwrap();
    assert_eq!(v["passed"], false);
    assert_eq!(v["findings"].as_array().unwrap().len(), 11);
    assert_eq!(v["counts"]["Disallowed K8s User"], 1, "{v}");
    // A broken line is named by file and line.
    std::fs::write(
        &file,
        "{\"rule\":\"a\",\"priority\":\"Warning\"}\nnot json\n",
    )
    .unwrap();
    let bad = tripline(&["gate", "--findings", file.to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains("alerts.json:2: expected a JSON finding"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn gate_sarif_is_valid_sarif_2_1_0_with_locations() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.db").display().to_string();
    replay_into(&store);
    let manifests = dir.path().join("manifests");
    std::fs::create_dir_all(&manifests).unwrap();
    std::fs::write(
        manifests.join("nginx.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: nginx-deployment\n  namespace: kube-system\n",
    )
    .unwrap();
    let out = tripline(&[
        "gate",
        "--store",
        &store,
        "--format",
        "sarif",
        "--declared",
        manifests.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let sarif: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut schema: Value = serde_json::from_str(include_str!(
        "../../../../data/schemas/sarif-2.1.0-rtm.5.json"
    ))
    .unwrap();
    // The published schema's `run.language` pattern has a stray `]` that only ECMA regexes
    // accept; give it the pattern it means (we never emit `language`).
    let text = serde_json::to_string(&schema).unwrap().replace(
        "^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$",
        "^[a-zA-Z]{2}(-[a-zA-Z]{2})?$",
    );
    schema = serde_json::from_str(&text).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&sarif)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    // The validator is not a rubber stamp.
    let mut broken = sarif.clone();
    broken["runs"][0]["results"][0]["level"] = "fatal".into();
    assert!(!validator.is_valid(&broken));

    let run = &sarif["runs"][0];
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 11);
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    for r in results {
        let idx = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[idx]["id"], r["ruleId"]);
        assert!(r["ruleId"].as_str().unwrap().starts_with("tripline/rule/"));
        assert_eq!(
            r["partialFingerprints"]["triplineFingerprint/v1"]
                .as_str()
                .unwrap()
                .len(),
            32
        );
        let sev: f64 = rules[idx]["properties"]["security-severity"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(sev > 0.0 && sev <= 10.0);
    }
    let pod = results
        .iter()
        .find(|r| r["ruleId"] == "tripline/rule/pod-created-in-kube-namespace")
        .expect("the kube-system pod finding");
    let loc = &pod["locations"][0]["physicalLocation"];
    assert!(
        loc["artifactLocation"]["uri"]
            .as_str()
            .unwrap()
            .ends_with("manifests/nginx.yaml"),
        "{loc}"
    );
    assert_eq!(loc["region"]["startLine"], 4);
    // Same findings, same ids and fingerprints: code-scanning dashboards track them across runs.
    let again: Value =
        serde_json::from_slice(&tripline(&["gate", "--store", &store, "--format", "sarif"]).stdout)
            .unwrap();
    let ids = |v: &Value| -> Vec<(String, String)> {
        v["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["ruleId"].to_string(),
                    r["partialFingerprints"].to_string(),
                )
            })
            .collect()
    };
    assert_eq!(ids(&sarif), ids(&again));
}

#[test]
fn gate_junit_fails_the_rules_over_the_threshold() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.db").display().to_string();
    replay_into(&store);
    let out = tripline(&["gate", "--store", &store, "--format", "junit"]);
    assert_eq!(out.status.code(), Some(3));
    let xml = String::from_utf8(out.stdout).unwrap();
    let testcases = xml.matches("<testcase ").count();
    let failures = xml.matches("<failure ").count();
    assert!(xml.starts_with("<?xml"));
    assert!(
        xml.contains(&format!("tests=\"{testcases}\" failures=\"{failures}\"")),
        "{xml}"
    );
    assert!(
        failures >= 1 && failures < testcases,
        "{failures} of {testcases}"
    );
    assert!(xml.contains("name=\"Disallowed K8s User\""));
}

/// An HTTP peer that answers each request after `delay`, records the bodies, and can be told to
/// stop answering.
fn slow_webhook(delay: Duration) -> (String, Arc<Mutex<Vec<Value>>>, Arc<AtomicBool>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let (b, s) = (bodies.clone(), stop.clone());
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        while !s.load(Ordering::Relaxed) {
            let Ok((conn, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            };
            conn.set_nonblocking(false).unwrap();
            let b = b.clone();
            std::thread::spawn(move || {
                let mut r = BufReader::new(conn.try_clone().unwrap());
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut len = 0;
                    loop {
                        let mut h = String::new();
                        if r.read_line(&mut h).unwrap_or(0) == 0 {
                            return;
                        }
                        if h == "\r\n" {
                            break;
                        }
                        if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap();
                        }
                    }
                    let mut body = vec![0; len];
                    if r.read_exact(&mut body).is_err() {
                        return;
                    }
                    std::thread::sleep(delay);
                    b.lock()
                        .unwrap()
                        .push(serde_json::from_slice(&body).unwrap());
                    let mut w = &conn;
                    if w.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    (url, bodies, stop)
}

/// `kill -9` of the agent in the middle of delivering: after a restart every accepted finding
/// has been delivered at least once; none is lost.
#[test]
fn kill_9_mid_delivery_loses_no_finding() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.db").display().to_string();
    let (url, bodies, stop) = slow_webhook(Duration::from_millis(150));
    let sink = format!("webhook={url}");
    let mut agent = Command::new(env!("CARGO_BIN_EXE_tripline"))
        .args(["replay", "--store", &store, "--sink", &sink, EVENTS])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Kill it once a few findings went out, well before all 25 could (150 ms each).
    let start = Instant::now();
    while bodies.lock().unwrap().len() < 3 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no delivery started"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    agent.kill().unwrap(); // SIGKILL
    agent.wait().unwrap();
    let before_restart = bodies.lock().unwrap().len();
    assert!(
        before_restart < 25,
        "all {before_restart} delivered before the kill"
    );

    // The restarted agent replays the same logs (folded, nothing new) and drains the outbox.
    let restart = tripline(&["replay", "--store", &store, "--sink", &sink, EVENTS]);
    assert!(restart.status.success(), "{}", stderr(&restart));
    assert!(
        stderr(&restart).contains("Store: 0 new findings, 25 folded"),
        "{}",
        stderr(&restart)
    );
    stop.store(true, Ordering::Relaxed);

    let got = bodies.lock().unwrap();
    let mut per: BTreeMap<String, usize> = BTreeMap::new();
    for b in got.iter() {
        // By store id: two findings may share a fingerprint when they are more than the dedup
        // window apart.
        *per.entry(b["id"].to_string()).or_default() += 1;
    }
    let health = tripline_store::Store::open(&store)
        .unwrap()
        .outbox_health()
        .unwrap();
    assert_eq!(
        per.len(),
        25,
        "findings delivered: {} of 25; {before_restart} before the restart; {health:?}; {}",
        per.len(),
        stderr(&restart)
    );
    // At most the one in flight at the kill went twice.
    let dup: usize = per.values().map(|n| n - 1).sum();
    assert!(dup <= 1, "{dup} duplicates");
    let s = tripline_store::Store::open(&store)
        .unwrap()
        .outbox_health()
        .unwrap();
    assert_eq!((s[0].pending, s[0].delivered), (0, 25));
}

/// `--format policyreport` (drift and policy) is a valid wgpolicyk8s.io/v1alpha2 PolicyReport
/// by the CRD's own schema.
#[test]
fn policy_reports_validate_against_the_crd_schema() {
    let crd: serde_yaml::Value = serde_yaml::from_str(include_str!(
        "../../../../data/schemas/wgpolicyk8s.io_policyreports.yaml"
    ))
    .unwrap();
    let version = crd["spec"]["versions"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "v1alpha2")
        .unwrap();
    let schema: Value = serde_json::to_value(&version["schema"]["openAPIV3Schema"]).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let k = concat!(env!("CARGO_MANIFEST_DIR"), "/../drift/tests/k8s");
    let manifests = format!("{k}/manifests");
    let live = format!("{k}/live.json");
    let reports = [
        tripline(&[
            "drift",
            "--manifests",
            &manifests,
            "--live",
            &live,
            "--format",
            "policyreport",
        ]),
        tripline(&[
            "policy",
            "eval",
            "--input",
            &live,
            "--format",
            "policyreport",
        ]),
    ];
    for out in reports {
        let report: Value = serde_yaml::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
        assert_eq!(report["apiVersion"], "wgpolicyk8s.io/v1alpha2");
        assert!(
            !report["results"].as_array().unwrap().is_empty(),
            "{report}"
        );
        let errors: Vec<String> = validator
            .iter_errors(&report)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{errors:#?}");
        let mut broken = report.clone();
        broken["results"][0]["result"] = "maybe".into();
        assert!(
            !validator.is_valid(&broken),
            "the schema checks result values"
        );
    }
}
