//! `oneof` / `anyof` / `allof` string-operator modifiers (RULES-LANGUAGE.md 5.1, 5.3), through
//! the whole loader: parse, compile against a field table, evaluate.

use tripline_event::{Event, FieldDef, FieldRef, FieldTable, FieldType, SourceSchema, Value};
use tripline_rules::falco::{load, RulesFile};
use tripline_rules::RuleMatching;

struct Ev(&'static str);

impl Event for Ev {
    fn source(&self) -> &str {
        "test"
    }
    fn time_ns(&self) -> u64 {
        1
    }
    fn extract(&self, _field: &FieldRef) -> Option<Value<'_>> {
        Some(Value::from(self.0))
    }
}

fn fires(condition: &str, value: &'static str) -> bool {
    let schema = SourceSchema::new(
        "test",
        FieldTable::new(vec![FieldDef::new("t.cmd", FieldType::String, "command")]),
    );
    let text = format!(
        "- rule: r\n  desc: d\n  condition: {condition}\n  output: x\n  priority: INFO\n  source: test\n"
    );
    let (rules, report) = load(
        &[RulesFile {
            name: "q.yaml".into(),
            content: text,
        }],
        &[schema],
    );
    assert!(report.is_ok(), "{condition}: {:?}", report.errors);
    rules.evaluate(&Ev(value), RuleMatching::First, |_| {}) == 1
}

#[test]
fn anyof_oneof_allof() {
    let cmd = "curl -k http://x";
    assert!(fires("t.cmd contains anyof (wget, curl)", cmd));
    assert!(!fires("t.cmd contains anyof (wget, nc)", cmd));
    assert!(fires("t.cmd contains oneof (curl, wget)", cmd));
    assert!(!fires("t.cmd contains oneof (curl, http)", cmd));
    assert!(fires("t.cmd contains allof (curl, '-k', http)", cmd));
    assert!(!fires("t.cmd contains allof (curl, wget)", cmd));
    assert!(fires("t.cmd startswith anyof (wget, curl)", cmd));
    assert!(fires("not t.cmd startswith anyof (wget, nc)", cmd));
}

#[test]
fn quantifiers_reject_list_operators() {
    let schema = SourceSchema::new(
        "test",
        FieldTable::new(vec![FieldDef::new("t.cmd", FieldType::String, "command")]),
    );
    let text = "- rule: r\n  desc: d\n  condition: t.cmd in anyof (a, b)\n  output: x\n  priority: INFO\n  source: test\n";
    let (_, report) = load(
        &[RulesFile {
            name: "q.yaml".into(),
            content: text.into(),
        }],
        &[schema],
    );
    assert!(!report.is_ok());
}
