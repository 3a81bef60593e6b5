//! The web UI in a real browser: headless Chromium (Debian's `chromium` and `chromium-driver`,
//! installed by .ci/run) logs in with a token, finds a finding produced by a replay, filters,
//! opens its detail and approves its pending action. A screenshot of the findings page is saved
//! to `target/ui-findings.png`.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{ClientBuilder, Locator};

const EVENTS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../data/falco/tests/k8s_audit/events"
);

struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn have_browser() -> bool {
    let found = Command::new("chromedriver")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found && std::env::var_os("TRIPLINE_REQUIRE_BROWSER_TESTS").is_some() {
        panic!("TRIPLINE_REQUIRE_BROWSER_TESTS is set but chromedriver is missing (apt-get install chromium chromium-driver)");
    }
    if !found {
        eprintln!(
            "skipping the browser test: no chromedriver (apt-get install chromium chromium-driver)"
        );
    }
    found
}

/// Starts `tripline serve`; returns the process, its address and the admin token it printed.
fn serve(store: &str) -> (Kill, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tripline"))
        .args(["serve", "--store", store, "--listen", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let (mut addr, mut token) = (String::new(), String::new());
    while addr.is_empty() || token.is_empty() {
        let line = lines
            .next()
            .expect("serve printed its address and token")
            .unwrap();
        if let Some(a) = line.strip_prefix("tripline: web UI and API at http://") {
            addr = a.trim_end_matches('/').to_string();
        }
        if let Some(at) = line.find("tl_") {
            token = line[at..].trim().to_string();
        }
    }
    (Kill(child), addr, token)
}

#[tokio::test(flavor = "current_thread")]
async fn browser_logs_in_filters_opens_and_approves() {
    if !have_browser() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.db").display().to_string();
    let config = dir.path().join("tripline.yaml");
    std::fs::write(
        &config,
        "actions:\n  - rule: Disallowed K8s User\n    action: command\n    command: [/bin/true]\n    approval: required\n",
    )
    .unwrap();
    let replay = Command::new(env!("CARGO_BIN_EXE_tripline"))
        .args([
            "replay",
            "--store",
            &store,
            "--config",
            config.to_str().unwrap(),
            EVENTS,
        ])
        .output()
        .unwrap();
    assert!(
        replay.status.success(),
        "{}",
        String::from_utf8_lossy(&replay.stderr)
    );
    let (_server, addr, token) = serve(&store);

    // Unauthenticated API requests get 401.
    let unauth = Command::new(env!("CARGO_BIN_EXE_tripline")); // keep the binary warm
    drop(unauth);
    let resp = ureq_get(&format!("http://{addr}/api/v1/findings"));
    assert_eq!(resp, 401);

    let port = free_port();
    let _driver = Kill(
        Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let profile = tempfile::tempdir().unwrap();
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1400,1000",
                format!("--user-data-dir={}", profile.path().display()),
            ],
        }),
    );
    let start = Instant::now();
    let client = loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(c) => break c,
            Err(e) if start.elapsed() < Duration::from_secs(20) => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("chromedriver: {e}"),
        }
    };

    // Not logged in: the UI sends the browser to the login form.
    client
        .goto(&format!("http://{addr}/findings"))
        .await
        .unwrap();
    wait_for_path(&client, "/login").await;
    client
        .find(Locator::Css("#token"))
        .await
        .unwrap()
        .send_keys(&token)
        .await
        .unwrap();
    client
        .find(Locator::Css("form[action='/login'] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_path(&client, "/findings").await;
    let table = client
        .find(Locator::Css("#findings"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(table.contains("Disallowed K8s User"), "{table}");
    assert!(table.contains("Create HostNetwork Pod"), "{table}");
    let png = client.screenshot().await.unwrap();
    let shot = concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/ui-findings.png");
    std::fs::write(shot, &png).unwrap();
    assert!(png.starts_with(b"\x89PNG"));

    // Filter by text and priority.
    let search = client.find(Locator::Css("input[name='q']")).await.unwrap();
    search.send_keys("Disallowed").await.unwrap();
    client
        .find(Locator::Css(
            "select[name='priority'] option[value='warning']",
        ))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client
        .find(Locator::Css("form.filters button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_path(&client, "/findings?q=Disallowed").await;
    let rows = client
        .find_all(Locator::Css("#findings tbody tr"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let summary = client
        .find(Locator::Css("#summary"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(summary.starts_with("1 findings"), "{summary}");

    // Open it: evidence and the pending action.
    client
        .find(Locator::LinkText("Disallowed K8s User"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let evidence = client
        .find(Locator::Css("#evidence"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        evidence.contains("ka.user.name") && evidence.contains("some-user"),
        "{evidence}"
    );
    let status = client
        .find(Locator::Css("#actions td.status"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(status, "pending");
    client
        .find(Locator::Css("#actions button[name='approve']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_path(&client, "/actions").await;
    let status = client
        .find(Locator::Css("#actions td.status"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(status, "approved");
    let audit = client
        .find(Locator::Css("#actions"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        audit.contains("admin"),
        "decided by the admin token: {audit}"
    );
    client.close().await.unwrap();

    // The decision is in the store's audit trail.
    let mut s = tripline_store::Store::open(&store).unwrap();
    let actions = s.actions(None, 10).unwrap();
    assert_eq!(actions.len(), 1);
    assert_eq!(actions[0].status, tripline_store::actions::Status::Approved);
    assert_eq!(actions[0].decided_by.as_deref(), Some("admin"));
}

fn ureq_get(url: &str) -> u16 {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let mut s = std::net::TcpStream::connect(host).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.split(' ').nth(1).unwrap().parse().unwrap()
}

/// Waits (up to 10 s) for the browser to arrive at a page whose path ends with `suffix` (or,
/// when `suffix` has a `?`, whose path and query contain it): forms
/// post and redirect, and on a loaded machine the new page can take a moment.
async fn wait_for_path(client: &fantoccini::Client, suffix: &str) {
    let mut path = String::new();
    for _ in 0..100 {
        let url = client.current_url().await.unwrap();
        path = match url.query() {
            Some(q) if suffix.contains('?') => format!("{}?{q}", url.path()),
            _ => url.path().to_string(),
        };
        if path.ends_with(suffix) || (suffix.contains('?') && path.contains(suffix)) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the browser is at {path}, expected a path ending with {suffix}");
}
