//! The server over real HTTP: authentication, filters, detail pages, actions, metrics.

use std::sync::{Arc, Mutex};

use serde_json::Value;
use tripline_event::Priority;
use tripline_server::{start, AppState, LiveStats, Running};
use tripline_store::auth::Role;
use tripline_store::{Ingest, Kind, NewFinding, Store};

struct Fixture {
    server: Running,
    admin: String,
    viewer: String,
    finding: i64,
    action: i64,
    _dir: tempfile::TempDir,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let url = dir.path().join("s.db").display().to_string();
    let mut s = Store::open(&url).unwrap();
    let admin = s.create_token("admin", Role::Admin).unwrap();
    let viewer = s.create_token("ci", Role::Viewer).unwrap();
    let mut f = NewFinding::new(
        "Terminal shell in container",
        Priority::Notice,
        "syscall",
        "A shell was spawned in a container <script>alert(1)</script>",
    );
    f.fields.insert("proc.name".into(), "bash".into());
    f.fields.insert("proc.pname".into(), "runc".into());
    f.fields
        .insert("proc.aname[2]".into(), "containerd-shim".into());
    f.fields.insert("container.id".into(), "abc123".into());
    let Ingest::New(id) = s.ingest(&f).unwrap() else {
        panic!()
    };
    let mut d = NewFinding::new(
        "sshd config changed",
        Priority::Error,
        "host",
        "/etc/ssh/sshd_config changed",
    );
    d.kind = Kind::Drift;
    s.ingest(&d).unwrap();
    let action = s.request_action(id, "kill", "pid 4242", false).unwrap();
    let stats = Arc::new(Mutex::new(LiveStats {
        mode: "sensor".into(),
        events: 1234,
        drops: 5,
        sources: vec![tripline_server::SourceStats {
            source: "k8s-audit=webhook".into(),
            events: 77,
            refused_full: 3,
            lag_seconds: 0.25,
            ..Default::default()
        }],
        ..LiveStats::default()
    }));
    let state =
        AppState::new(Store::open(&url).unwrap(), stats).with_outputs(vec!["webhook".into()]);
    let server = start("127.0.0.1:0".parse().unwrap(), state).unwrap();
    Fixture {
        server,
        admin,
        viewer,
        finding: id,
        action,
        _dir: dir,
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into()
}

fn get(fx: &Fixture, path: &str, token: Option<&str>) -> (u16, String) {
    let mut req = agent().get(format!("http://{}{path}", fx.server.addr));
    if let Some(t) = token {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    let mut resp = req.call().unwrap();
    let code = resp.status().as_u16();
    (code, resp.body_mut().read_to_string().unwrap_or_default())
}

fn post(fx: &Fixture, path: &str, token: &str) -> (u16, String) {
    let mut resp = agent()
        .post(format!("http://{}{path}", fx.server.addr))
        .header("Authorization", format!("Bearer {token}"))
        .send_empty()
        .unwrap();
    let code = resp.status().as_u16();
    (code, resp.body_mut().read_to_string().unwrap_or_default())
}

#[test]
fn unauthenticated_requests_are_refused() {
    let fx = fixture();
    for path in ["/api/v1/findings", "/api/v1/status", "/metrics"] {
        assert_eq!(get(&fx, path, None).0, 401, "{path}");
        assert_eq!(get(&fx, path, Some("tl_forged")).0, 401, "{path}");
    }
    // Pages send the browser to the login form instead.
    let (code, _) = get(&fx, "/findings", None);
    assert_eq!(code, 303);
    assert_eq!(get(&fx, "/healthz", None), (200, "ok\n".into()));
    assert_eq!(get(&fx, "/login", None).0, 200);
}

#[test]
fn api_lists_filters_and_shows_findings() {
    let fx = fixture();
    let (code, body) = get(&fx, "/api/v1/findings", Some(&fx.viewer));
    assert_eq!(code, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["total"], 2);
    let (_, body) = get(&fx, "/api/v1/findings?kind=drift", Some(&fx.viewer));
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["findings"][0]["rule"], "sshd config changed");
    let (_, body) = get(
        &fx,
        "/api/v1/findings?q=shell&priority=notice",
        Some(&fx.viewer),
    );
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["total"], 1);
    let (code, body) = get(&fx, "/api/v1/findings?priority=loud", Some(&fx.viewer));
    assert_eq!(code, 400);
    assert!(body.contains("unknown priority 'loud'"), "{body}");
    let (code, body) = get(
        &fx,
        &format!("/api/v1/findings/{}", fx.finding),
        Some(&fx.viewer),
    );
    assert_eq!(code, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["finding"]["fields"]["proc.name"], "bash");
    assert_eq!(v["actions"][0]["status"], "pending");
    assert_eq!(get(&fx, "/api/v1/findings/999", Some(&fx.viewer)).0, 404);
}

#[test]
fn pages_render_escaped_evidence_and_ancestry() {
    let fx = fixture();
    let (code, page) = get(&fx, "/findings", Some(&fx.viewer));
    assert_eq!(code, 200);
    assert!(page.contains("Terminal shell in container"));
    assert!(page.contains("&lt;script&gt;"), "message must be escaped");
    assert!(!page.contains("<script>alert"));
    let (code, page) = get(&fx, &format!("/findings/{}", fx.finding), Some(&fx.viewer));
    assert_eq!(code, 200);
    let ancestry = &page[page.find("id=\"ancestry\"").unwrap()..];
    let order: Vec<usize> = ["bash", "runc", "containerd-shim"]
        .iter()
        .map(|n| ancestry.find(n).unwrap())
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    // A viewer sees no approve button.
    assert!(!page.contains("/approve"));
    let (_, page) = get(&fx, &format!("/findings/{}", fx.finding), Some(&fx.admin));
    assert!(page.contains(&format!("/actions/{}/approve", fx.action)));
    let (_, page) = get(&fx, "/status", Some(&fx.viewer));
    assert!(page.contains("1234") && page.contains("webhook"));
}

#[test]
fn only_admins_decide_actions() {
    let fx = fixture();
    let path = format!("/api/v1/actions/{}/approve", fx.action);
    let (code, body) = post(&fx, &path, &fx.viewer);
    assert_eq!(code, 403, "{body}");
    assert_eq!(post(&fx, &path, &fx.admin).0, 200);
    // Twice is a conflict, not a second approval.
    assert_eq!(post(&fx, &path, &fx.admin).0, 409);
    let (_, body) = get(&fx, "/api/v1/actions", Some(&fx.viewer));
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["actions"][0]["status"], "approved");
    assert_eq!(v["actions"][0]["decided_by"], "admin");
    // A form post from another site is refused even with a valid session cookie.
    let cookie = login(&fx, &fx.admin);
    let resp = agent()
        .post(format!(
            "http://{}/actions/{}/reject",
            fx.server.addr, fx.action
        ))
        .header("Cookie", &cookie)
        .header("Origin", "http://evil.example")
        .send_empty()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);
}

/// Logs in through the form; returns the `Cookie` header value of the session.
fn login(fx: &Fixture, token: &str) -> String {
    let resp = agent()
        .post(format!("http://{}/login", fx.server.addr))
        .send_form([("token", token)])
        .unwrap();
    assert_eq!(resp.status().as_u16(), 303);
    let set = resp.headers().get("set-cookie").unwrap().to_str().unwrap();
    set.split(';').next().unwrap().to_string()
}

#[test]
fn the_session_cookie_is_not_the_token_and_cross_origin_api_posts_are_refused() {
    let fx = fixture();
    let cookie = login(&fx, &fx.admin);
    assert!(!cookie.contains(&fx.admin), "{cookie}");
    // The token itself is no cookie.
    let resp = agent()
        .get(format!("http://{}/api/v1/actions", fx.server.addr))
        .header("Cookie", format!("tripline_session={}", fx.admin))
        .call()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    let approve = format!(
        "http://{}/api/v1/actions/{}/approve",
        fx.server.addr, fx.action
    );
    // The API's approve route with the cookie, from another origin: 403, nothing decided.
    let resp = agent()
        .post(&approve)
        .header("Cookie", &cookie)
        .header("Origin", "http://evil.example")
        .send_empty()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    let (_, body) = get(&fx, "/api/v1/actions", Some(&fx.viewer));
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["actions"][0]["status"], "pending");
    // From our own origin it is allowed.
    let resp = agent()
        .post(&approve)
        .header("Cookie", &cookie)
        .header("Origin", format!("http://{}", fx.server.addr))
        .send_empty()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    // Logout ends the session on the server: the same cookie no longer works.
    let resp = agent()
        .post(format!("http://{}/logout", fx.server.addr))
        .header("Cookie", &cookie)
        .send_empty()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 303);
    let resp = agent()
        .get(format!("http://{}/api/v1/actions", fx.server.addr))
        .header("Cookie", &cookie)
        .call()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
}

#[test]
fn login_sets_a_strict_http_only_cookie() {
    let fx = fixture();
    let resp = agent()
        .post(format!("http://{}/login", fx.server.addr))
        .send_form([("token", fx.viewer.as_str())])
        .unwrap();
    assert_eq!(resp.status().as_u16(), 303);
    let cookie = resp.headers().get("set-cookie").unwrap().to_str().unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let bad = agent()
        .post(format!("http://{}/login", fx.server.addr))
        .send_form([("token", "nope")])
        .unwrap();
    assert_eq!(bad.status().as_u16(), 401);
}

#[test]
fn metrics_have_bounded_labels() {
    let fx = fixture();
    let (code, text) = get(&fx, "/metrics", Some(&fx.viewer));
    assert_eq!(code, 200);
    assert!(text.contains("tripline_events_total 1234"));
    assert!(text.contains("tripline_events_dropped_total 5"));
    assert!(text.contains("tripline_findings_total{priority=\"notice\",kind=\"rule\"} 1"));
    assert!(text.contains("tripline_findings_total{priority=\"error\",kind=\"drift\"} 1"));
    assert!(text.contains("tripline_output_pending{output=\"webhook\"} 0"));
    assert!(text.contains("tripline_source_events_total{source=\"k8s-audit=webhook\"} 77"));
    assert!(text.contains("tripline_source_refused_total{source=\"k8s-audit=webhook\"} 3"));
    assert!(text.contains("tripline_source_lag_seconds{source=\"k8s-audit=webhook\"} 0.25"));
    let (code, page) = get(&fx, "/status", Some(&fx.viewer));
    assert_eq!(code, 200);
    assert!(
        page.contains("id=\"sources\"") && page.contains("k8s-audit=webhook"),
        "{page}"
    );
    // Every sample line parses as NAME{LABELS} VALUE, and no label carries a rule name.
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (_, value) = line.rsplit_once(' ').unwrap();
        value.parse::<f64>().unwrap_or_else(|_| panic!("{line}"));
        assert!(!line.contains("Terminal"), "{line}");
    }
}

#[test]
fn tls_when_a_certificate_is_configured() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let (cert_path, key_path) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let url = dir.path().join("s.db").display().to_string();
    let mut s = Store::open(&url).unwrap();
    let token = s.create_token("admin", Role::Admin).unwrap();
    let state = AppState::new(s, Arc::new(Mutex::new(LiveStats::default())));
    let server = tripline_server::start_with(
        "127.0.0.1:0".parse().unwrap(),
        state,
        Some(tripline_server::Tls {
            cert: cert_path,
            key: key_path,
        }),
    )
    .unwrap();
    let der = cert.cert.der().to_vec();
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::Specific(std::sync::Arc::new(vec![
            ureq::tls::Certificate::from_der(&der).to_owned(),
        ])))
        .build();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .tls_config(tls)
        .http_status_as_error(false)
        .build()
        .into();
    let port = server.addr.port();
    let mut resp = agent
        .get(format!("https://localhost:{port}/api/v1/status"))
        .header("Authorization", format!("Bearer {token}"))
        .call()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert!(resp
        .body_mut()
        .read_to_string()
        .unwrap()
        .contains("\"sensor\""));
    // The login cookie is Secure over TLS.
    let login = agent
        .post(format!("https://localhost:{port}/login"))
        .config()
        .max_redirects(0)
        .build()
        .send_form([("token", token.as_str())])
        .unwrap();
    let cookie = login.headers().get("set-cookie").unwrap().to_str().unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");
    // Plain HTTP to the TLS port gets no page.
    let plain = ureq::get(format!("http://127.0.0.1:{port}/healthz")).call();
    assert!(plain.is_err() || plain.unwrap().status().as_u16() >= 400);
    // A missing key file is a clear error.
    let bad = tripline_server::start_with(
        "127.0.0.1:0".parse().unwrap(),
        AppState::new(
            Store::open(":memory:").unwrap(),
            Arc::new(Mutex::new(LiveStats::default())),
        ),
        Some(tripline_server::Tls {
            cert: dir.path().join("c.pem"),
            key: dir.path().join("missing.pem"),
        }),
    );
    let err = bad.err().unwrap().to_string();
    assert!(err.contains("missing.pem"), "{err}");
}
