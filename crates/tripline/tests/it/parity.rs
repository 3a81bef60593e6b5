//! Falco parity on captures (issue 22): operators on multi-valued fields, generic events
//! named after their syscall. Each case runs a real upstream capture through the pipeline.

use tripline::replay::{run_capture, CaptureConfig};
use tripline_pipeline::{Pipeline, Syscall};
use tripline_rules::falco::{load, RulesFile};
use tripline_rules::RuleMatching;

const CAT_WRITE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../data/falco/tests/syscall/captures/cat_write.scap"
);

/// Alerts of one rule with `condition` on cat_write.scap (its `cat` runs under
/// sshd → bash → emacs → bash, pids 11310 and 1077 are its first two ancestors).
fn alerts(condition: &str, all_events: bool, matching: RuleMatching) -> u64 {
    let rules = format!(
        "- rule: r\n  desc: d\n  condition: {condition}\n  output: '%evt.type %proc.name'\n  priority: WARNING\n"
    );
    let (rules, report) = load(
        &[RulesFile {
            name: "r.yaml".into(),
            content: rules,
        }],
        &[tripline_sources::syscall::schema().clone()],
    );
    assert!(report.is_ok(), "{condition}: {:?}", report.errors);
    let mut pipeline: Pipeline<Syscall> = Pipeline::falco(rules, matching, "test");
    let stats = run_capture(
        &mut pipeline,
        &[CAT_WRITE.into()],
        &CaptureConfig { all_events },
        &mut |_| {},
        &mut || {},
    );
    assert!(stats.input_errors.is_empty(), "{:?}", stats.input_errors);
    stats.alerts()
}

/// Every operator on a multi-valued field means "some value matches", as in Falco (which
/// compares each ancestor in turn); `proc.aname in (...)` used to require every ancestor.
#[test]
fn every_operator_on_ancestor_fields_matches_any_ancestor() {
    let opens = "evt.type=open and evt.dir=< and proc.name=cat";
    for (check, want) in [
        ("proc.aname = emacs", 4),
        ("proc.aname in (emacs, nginx)", 4),
        ("proc.aname in (httpd, nginx)", 0),
        ("proc.aname intersects (sshd)", 4),
        ("proc.aname startswith ema", 4),
        ("proc.aname endswith acs", 4),
        ("proc.aname contains mac", 4),
        ("proc.aname icontains MAC", 4),
        ("proc.aname glob 'em*'", 4),
        ("proc.aname pmatch (/nowhere)", 0),
        ("proc.aname[2] in (emacs)", 4),
        ("proc.aname[1] in (emacs)", 0),
        ("proc.apid in (1077)", 4),
        ("proc.apid = 11310", 4),
        ("proc.apid in (999999)", 0),
        ("proc.apid[1] = 11310", 4),
        ("proc.apid[1] = 1077", 0),
    ] {
        let got = alerts(&format!("{opens} and {check}"), false, RuleMatching::First);
        assert_eq!(got, want, "{check}");
    }
}

/// Generic events (code 0/1) carry their syscall in `ID`: Falco names them after it, so
/// `evt.type=mprotect` matches the 2016 capture's generic mprotect calls, in both directions.
#[test]
fn generic_events_are_named_after_their_syscall() {
    assert_eq!(tripline_scap::table::generic_name(139), Some("madvise"));
    assert_eq!(tripline_scap::table::generic_name(0), None);
    assert_eq!(tripline_scap::table::generic_name(100_000), None);
    // Four generic mprotect calls, enter and exit; memory events need -A.
    assert_eq!(alerts("evt.type=mprotect", true, RuleMatching::First), 8);
    assert_eq!(
        alerts("evt.type=mprotect and evt.dir=<", true, RuleMatching::First),
        4
    );
    assert_eq!(alerts("evt.type=arch_prctl", true, RuleMatching::All), 2);
    // 2016-era open exits keep their name and direction.
    assert_eq!(
        alerts("evt.type=open and evt.dir=<", false, RuleMatching::First),
        4
    );
}

/// A rule naming no event type meets every event type, also after a typed rule under
/// `rule_matching: first`.
#[test]
fn untyped_rules_meet_every_event_type() {
    let rules = "- rule: typed\n  desc: d\n  condition: evt.type=open and proc.name=cat\n  output: o\n  priority: WARNING\n\
                 - rule: untyped\n  desc: d\n  condition: fd.name=/dev/null\n  output: o\n  priority: WARNING\n";
    let (rules, report) = load(
        &[RulesFile {
            name: "r.yaml".into(),
            content: rules.into(),
        }],
        &[tripline_sources::syscall::schema().clone()],
    );
    assert!(report.is_ok(), "{:?}", report.errors);
    let mut pipeline: Pipeline<Syscall> = Pipeline::falco(rules, RuleMatching::First, "test");
    let mut types = Vec::new();
    run_capture(
        &mut pipeline,
        &[CAT_WRITE.into()],
        &CaptureConfig { all_events: true },
        &mut |f| {
            if f.rule == "untyped" {
                types.push(f.message.clone());
            }
        },
        &mut || {},
    );
    let counts = pipeline.alerts_by_rule();
    // The open of /dev/null went to the typed rule (first match); its fstat, read and close,
    // both directions, to the untyped one.
    assert_eq!(counts.get("typed"), Some(&8));
    assert_eq!(counts.get("untyped"), Some(&6), "{types:?}");
}
