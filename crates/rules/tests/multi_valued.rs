//! Operators on multi-valued fields (issue 22): a field that yields several values without
//! being a declared list (`proc.aname`, `fd.net`: the endpoints of a connection) matches when
//! any value does, for every operator; a declared list field keeps `in` = every element.

use std::net::IpAddr;

use ipnet::IpNet;
use tripline_event::{Event, FieldDef, FieldRef, FieldTable, FieldType, SourceSchema, Value};
use tripline_rules::falco::{load, RulesFile};
use tripline_rules::RuleMatching;

/// `t.anc`: two ancestors; `t.net`: a connection 127.0.0.1 -> 10.1.2.3 as host networks;
/// `t.images`: a declared list field.
struct Ev;

impl Event for Ev {
    fn source(&self) -> &str {
        "test"
    }
    fn time_ns(&self) -> u64 {
        1
    }
    fn extract(&self, field: &FieldRef) -> Option<Value<'_>> {
        let net = |ip: &str| Value::Net(IpNet::from(ip.parse::<IpAddr>().unwrap()));
        Some(match field.id {
            0 => Value::List(vec![Value::from("bash"), Value::from("httpd")]),
            1 => Value::List(vec![net("127.0.0.1"), net("10.1.2.3")]),
            _ => Value::List(vec![Value::from("nginx:1"), Value::from("redis:7")]),
        })
    }
}

fn fires(condition: &str) -> bool {
    let mut images = FieldDef::new("t.images", FieldType::String, "images");
    images.list = true;
    let schema = SourceSchema::new(
        "test",
        FieldTable::new(vec![
            FieldDef::new("t.anc", FieldType::String, "ancestors"),
            FieldDef::new("t.net", FieldType::IpNet, "endpoints"),
            images,
        ]),
    );
    let text = format!(
        "- rule: r\n  desc: d\n  condition: {condition}\n  output: x\n  priority: INFO\n  source: test\n"
    );
    let (rules, report) = load(
        &[RulesFile {
            name: "m.yaml".into(),
            content: text,
        }],
        &[schema],
    );
    assert!(report.is_ok(), "{condition}: {:?}", report.errors);
    rules.evaluate(&Ev, RuleMatching::First, |_| {}) == 1
}

#[test]
fn any_value_matches_for_every_operator() {
    for (condition, want) in [
        ("t.anc in (httpd, nginx)", true),
        ("t.anc in (nginx, apache2)", false),
        ("t.anc = httpd", true),
        ("t.anc intersects (httpd)", true),
        ("t.anc startswith htt", true),
        ("t.anc endswith tpd", true),
        ("t.anc contains ttp", true),
        ("t.anc glob 'h*'", true),
        ("t.anc pmatch (bash)", true),
        ("t.anc regex 'h.*d'", true),
        ("t.anc in (zsh)", false),
        ("t.net in (10.0.0.0/8)", true),
        ("t.net = 10.0.0.0/8", true),
        ("t.net in (192.168.0.0/16, 172.16.0.0/12)", false),
        ("t.net in (127.0.0.0/8)", true),
        ("t.net = 10.1.2.3", true),
        ("t.images in (nginx:1, redis:7, x)", true),
        ("t.images in (nginx:1)", false),
        ("t.images intersects (nginx:1)", true),
    ] {
        assert_eq!(fires(condition), want, "{condition}");
    }
}
