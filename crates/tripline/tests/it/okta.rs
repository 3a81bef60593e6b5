//! The upstream Okta MFA rules over a synthetic System Log stream: `countlast[N]` counts the
//! actor's failures (or push denies) in the last N seconds.

use std::io::Write;

use tripline::bundled;
use tripline::replay::{self, ReplayConfig};
use tripline_rules::falco::load;
use tripline_rules::RuleMatching;
use tripline_sources::input::Limits;
use tripline_sources::{schemas, SourceKind};

fn event(ty: &str, result: &str, actor: &str, secs: u64) -> String {
    let published = format!("2026-11-24T10:{:02}:{:02}.000Z", secs / 60, secs % 60);
    serde_json::json!({
        "eventType": ty,
        "published": published,
        "outcome": {"result": result, "reason": "INVALID_CREDENTIALS"},
        "actor": {"id": actor, "displayName": actor, "type": "User"},
        "displayMessage": "x"
    })
    .to_string()
}

fn alerts(lines: &[String]) -> Vec<(String, String)> {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    for l in lines {
        writeln!(f, "{l}").unwrap();
    }
    let (rules, report) = load(&bundled::for_source("okta"), &schemas());
    assert!(report.is_ok(), "{:?}", report.errors);
    let cfg = ReplayConfig {
        source: SourceKind::Okta,
        limits: Limits::default(),
    };
    let mut out = Vec::new();
    let input = f.path().display().to_string();
    let mut pipeline: tripline_pipeline::Pipeline<tripline_pipeline::Json> =
        tripline_pipeline::Pipeline::falco(rules, RuleMatching::All, "t");
    let stats = replay::run(
        &mut pipeline,
        &[input],
        &cfg,
        &mut |a| out.push((a.rule, a.message)),
        &mut || {},
    );
    assert_eq!(stats.events as usize, lines.len(), "{stats:?}");
    out
}

const MFA: &str = "user.authentication.auth_via_mfa";
const DENY: &str = "user.mfa.okta_verify.deny_push";

#[test]
fn three_mfa_failures_in_five_minutes() {
    let got = alerts(&[
        event(MFA, "FAILURE", "alice", 0),
        event(MFA, "FAILURE", "bob", 10),
        event(MFA, "SUCCESS", "alice", 20),
        event(MFA, "FAILURE", "alice", 100),
        event(MFA, "FAILURE", "alice", 200), // third failure of alice within 300 s: fires
        event(MFA, "FAILURE", "alice", 460), // 100 s and 0 s are out of the window: 200, 460 only
    ]);
    let mfa: Vec<_> = got
        .iter()
        .filter(|(r, _)| r == "Too many failed MFA in last 5min")
        .collect();
    assert_eq!(mfa.len(), 1, "{got:?}");
    assert!(
        mfa[0].1.contains("user='alice'") && mfa[0].1.contains("countLast300=3"),
        "{mfa:?}"
    );
}

#[test]
fn push_denies_are_counted_apart_from_failures() {
    let got = alerts(&[
        event(DENY, "DENY", "carol", 0),
        event(MFA, "FAILURE", "carol", 1),
        event(DENY, "DENY", "carol", 2),
        event(MFA, "FAILURE", "carol", 3),
        event(DENY, "DENY", "carol", 4),
    ]);
    let deny: Vec<_> = got
        .iter()
        .filter(|(r, _)| r == "Too many denied MFA Pushes in last 5min")
        .collect();
    assert_eq!(deny.len(), 1, "{got:?}");
    assert!(deny[0].1.contains("countLast300=3"), "{deny:?}");
    assert!(
        !got.iter()
            .any(|(r, _)| r == "Too many failed MFA in last 5min"),
        "{got:?}"
    );
}
