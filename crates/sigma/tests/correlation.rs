//! Correlation rules over timestamped event streams: window edges, group-by, aliases,
//! out-of-order arrival, chaining, and `generate`.

use std::path::Path;

use serde_json::{json, Value};
use tripline_sigma::{load, Hit, LoadOptions, LogSource, SigmaRuleset};

const S: u64 = 1_000_000_000;

const RULES: &str = r#"
title: Failed login
id: failed-login
name: failed_login
logsource: {product: test}
detection:
  sel: {event: login, outcome: failure}
  condition: sel
level: low
---
title: Recon A
name: recon_a
logsource: {product: test}
detection:
  sel: {cmd: whoami}
  condition: sel
---
title: Recon B
name: recon_b
logsource: {product: test}
detection:
  sel: {cmd: id}
  condition: sel
---
title: Recon C
name: recon_c
logsource: {product: test}
detection:
  sel: {cmd: uname}
  condition: sel
---
title: Upload
name: upload
logsource: {product: test}
detection:
  sel: {event: upload}
  condition: sel
"#;

fn set(correlation: &str) -> SigmaRuleset {
    let docs = load(
        &[
            ("rules.yml".into(), RULES.into()),
            ("corr.yml".into(), correlation.into()),
        ],
        LoadOptions::default(),
    );
    assert!(docs.errors.is_empty(), "{:#?}", docs.errors);
    SigmaRuleset::new(docs)
}

/// Feeds `(seconds, event)` pairs; returns the titles that fired for each.
fn run(set: &mut SigmaRuleset, events: &[(u64, Value)]) -> Vec<Vec<String>> {
    let stream = LogSource::new(None, Some("test"), None);
    events
        .iter()
        .map(|(t, ev)| {
            let mut fired = Vec::new();
            set.evaluate(ev, &stream, t * S, |hit| {
                let f = set_title(&hit);
                fired.push(f);
            });
            fired
        })
        .collect()
}

fn set_title(hit: &Hit<'_>) -> String {
    match hit {
        Hit::Rule(r) => r.title.clone(),
        Hit::Correlation(h) => format!("correlation#{}", h.index),
    }
}

fn failed(host: &str, user: &str) -> Value {
    json!({"event": "login", "outcome": "failure", "host": host, "user": user})
}

const COUNT3: &str = "title: Brute force\ncorrelation:\n  type: event_count\n  rules: [failed_login]\n  group-by: [host]\n  timespan: 60s\n  condition: {gte: 3}\n";

#[test]
fn event_count_fires_inside_the_window_only() {
    let mut s = set(COUNT3);
    let fired = run(
        &mut s,
        &[
            (0, failed("a", "u")),
            (30, failed("a", "u")),
            (61, failed("a", "u")), // the first is now out of the 60 s window
            (62, failed("a", "u")), // 30, 61, 62: three within 60 s
        ],
    );
    assert!(
        fired[2].iter().all(|t| !t.starts_with("correlation")),
        "{fired:?}"
    );
    assert!(fired[3].contains(&"correlation#0".to_string()), "{fired:?}");
    // generate: false (the default) suppresses the member rule's own alerts.
    assert!(
        fired.iter().flatten().all(|t| t != "Failed login"),
        "{fired:?}"
    );
}

#[test]
fn window_edge_is_inclusive() {
    let mut s = set(COUNT3);
    let fired = run(
        &mut s,
        &[
            (0, failed("a", "u")),
            (30, failed("a", "u")),
            (60, failed("a", "u")),
        ],
    );
    assert!(fired[2].contains(&"correlation#0".to_string()), "{fired:?}");
}

#[test]
fn groups_are_counted_apart() {
    let mut s = set(COUNT3);
    let fired = run(
        &mut s,
        &[
            (0, failed("a", "u")),
            (1, failed("b", "u")),
            (2, failed("a", "u")),
            (3, failed("b", "u")),
        ],
    );
    assert!(
        fired
            .iter()
            .flatten()
            .all(|t| !t.starts_with("correlation")),
        "{fired:?}"
    );
}

#[test]
fn out_of_order_events_within_the_window_count() {
    let mut s = set(COUNT3);
    let fired = run(
        &mut s,
        &[
            (50, failed("a", "u")),
            (10, failed("a", "u")),
            (30, failed("a", "u")),
        ],
    );
    assert!(fired[2].contains(&"correlation#0".to_string()), "{fired:?}");
    // An event older than the window relative to the newest one is not counted.
    let mut s = set(COUNT3);
    let fired = run(
        &mut s,
        &[
            (100, failed("a", "u")),
            (101, failed("a", "u")),
            (5, failed("a", "u")),
        ],
    );
    assert!(
        fired
            .iter()
            .flatten()
            .all(|t| !t.starts_with("correlation")),
        "{fired:?}"
    );
}

#[test]
fn value_count_counts_distinct_values() {
    let mut s = set("title: Spray\ncorrelation:\n  type: value_count\n  rules: [failed-login]\n  group-by: [host]\n  timespan: 5m\n  condition: {field: user, gte: 3}\n");
    let fired = run(
        &mut s,
        &[
            (0, failed("a", "u1")),
            (1, failed("a", "u1")),
            (2, failed("a", "u2")),
            (3, failed("a", "u3")),
        ],
    );
    assert!(fired[2].is_empty(), "{fired:?}");
    assert_eq!(fired[3], ["correlation#0"]);
}

fn cmd(c: &str) -> Value {
    json!({"cmd": c, "host": "h", "user": "u"})
}

#[test]
fn temporal_any_order_and_ordered() {
    let any = "title: Recon\ncorrelation:\n  type: temporal\n  rules: [recon_a, recon_b, recon_c]\n  group-by: [host, user]\n  timespan: 5m\n  generate: true\n";
    let mut s = set(any);
    let fired = run(
        &mut s,
        &[(0, cmd("uname")), (1, cmd("id")), (2, cmd("whoami"))],
    );
    assert!(fired[2].contains(&"correlation#0".to_string()), "{fired:?}");
    // generate: true keeps the member rules' alerts.
    assert!(fired[0].contains(&"Recon C".to_string()), "{fired:?}");

    let ordered = any.replace("type: temporal", "type: temporal_ordered");
    let mut s = set(&ordered);
    let fired = run(
        &mut s,
        &[(0, cmd("uname")), (1, cmd("id")), (2, cmd("whoami"))],
    );
    assert!(
        fired
            .iter()
            .flatten()
            .all(|t| !t.starts_with("correlation")),
        "{fired:?}"
    );
    let mut s = set(&ordered);
    let fired = run(
        &mut s,
        &[(0, cmd("whoami")), (1, cmd("id")), (2, cmd("uname"))],
    );
    assert!(fired[2].contains(&"correlation#0".to_string()), "{fired:?}");
    // Too slow: the first step left the window.
    let mut s = set(&ordered);
    let fired = run(
        &mut s,
        &[(0, cmd("whoami")), (200, cmd("id")), (400, cmd("uname"))],
    );
    assert!(
        fired
            .iter()
            .flatten()
            .all(|t| !t.starts_with("correlation")),
        "{fired:?}"
    );
}

#[test]
fn value_sum_and_avg() {
    let up = |n: u64| json!({"event": "upload", "user": "u", "bytes": n});
    let mut s = set("title: Exfil\ncorrelation:\n  type: value_sum\n  rules: [upload]\n  group-by: [user]\n  timespan: 1h\n  condition: {field: bytes, gt: 1000}\n");
    let fired = run(&mut s, &[(0, up(600)), (10, up(300)), (20, up(200))]);
    assert!(fired[1].is_empty());
    assert_eq!(fired[2], ["correlation#0"]);
    let mut s = set("title: Big avg\ncorrelation:\n  type: value_avg\n  rules: [upload]\n  group-by: [user]\n  timespan: 1h\n  condition: {field: bytes, gt: 500}\n");
    let fired = run(&mut s, &[(0, up(100)), (10, up(2000))]);
    assert_eq!(fired[1], ["correlation#0"]);
}

#[test]
fn aliases_join_different_fields_and_chains_work() {
    let corr = r#"
title: Login burst
name: burst
correlation:
  type: event_count
  rules: [failed_login]
  group-by: [who]
  aliases:
    who:
      failed_login: user
  timespan: 1m
  condition: {gte: 2}
---
title: Burst then recon
correlation:
  type: temporal_ordered
  rules: [burst, recon_a]
  group-by: [who]
  aliases:
    who:
      burst: user
      recon_a: user
  timespan: 10m
"#;
    let mut s = set(corr);
    let fired = run(
        &mut s,
        &[
            (0, failed("a", "u")),
            (1, failed("b", "u")),
            (30, cmd("whoami")),
        ],
    );
    assert!(fired[1].contains(&"correlation#0".to_string()), "{fired:?}");
    assert!(fired[2].contains(&"correlation#1".to_string()), "{fired:?}");
}

#[test]
fn spec_examples_load() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sigma/spec-examples");
    for sub in ["correlation", "filter", "rules"] {
        for e in std::fs::read_dir(dir.join(sub)).unwrap().flatten() {
            let text = std::fs::read_to_string(e.path()).unwrap();
            let docs = load(
                &[(e.path().display().to_string(), text)],
                LoadOptions::default(),
            );
            assert!(
                docs.errors.is_empty(),
                "{}: {:#?}",
                e.path().display(),
                docs.errors
            );
        }
    }
}

#[test]
fn bad_documents_name_file_and_line() {
    let bad = "title: x\nlogsource: {product: test}\ndetection:\n  sel:\n    a|nosuchmod: 1\n  condition: sel\n";
    let docs = load(&[("bad.yml".into(), bad.into())], LoadOptions::default());
    assert_eq!(docs.errors.len(), 1);
    let msg = docs.errors[0].to_string();
    assert!(msg.starts_with("bad.yml:5: "), "{msg}");
    assert!(msg.contains("unknown value modifier 'nosuchmod'"), "{msg}");
    let v1 = "title: x\nlogsource: {product: test}\ndetection:\n  sel: {a: 1}\n  condition: sel | count() > 5\n";
    let docs = load(&[("v1.yml".into(), v1.into())], LoadOptions::default());
    assert!(
        docs.errors[0].message.contains("aggregation"),
        "{:?}",
        docs.errors
    );
}

#[test]
fn timespans() {
    use tripline_sigma::correlation::parse_timespan;
    assert_eq!(parse_timespan("90m"), Some(90 * 60 * S));
    assert_eq!(parse_timespan("2d"), Some(2 * 86_400 * S));
    for bad in ["", "m", "5x", "5é", "99999999999999999999d", "-1s"] {
        assert_eq!(parse_timespan(bad), None, "{bad}");
    }
}
