//! `join`, `concat` and `getopt` (RULES-LANGUAGE.md 5.1 and 5.4), through the whole loader.

use tripline_event::{Event, FieldDef, FieldRef, FieldTable, FieldType, SourceSchema, Value};
use tripline_rules::falco::{load, RulesFile};
use tripline_rules::RuleMatching;

struct Ev {
    name: &'static str,
    args: Vec<&'static str>,
}

impl Event for Ev {
    fn source(&self) -> &str {
        "test"
    }
    fn time_ns(&self) -> u64 {
        1
    }
    fn extract(&self, field: &FieldRef) -> Option<Value<'_>> {
        match field.display.as_str() {
            "t.name" => Some(Value::from(self.name)),
            "t.args" => Some(Value::List(
                self.args.iter().map(|a| Value::from(*a)).collect(),
            )),
            _ => None,
        }
    }
}

fn schema() -> SourceSchema {
    let mut args = FieldDef::new("t.args", FieldType::String, "arguments");
    args.list = true;
    SourceSchema::new(
        "test",
        FieldTable::new(vec![
            FieldDef::new("t.name", FieldType::String, "name"),
            args,
        ]),
    )
}

fn load_one(condition: &str) -> Result<tripline_rules::Ruleset, String> {
    let text = format!(
        "- rule: r\n  desc: d\n  condition: {condition}\n  output: x\n  priority: INFO\n  source: test\n"
    );
    let (rules, report) = load(
        &[RulesFile {
            name: "m.yaml".into(),
            content: text,
        }],
        &[schema()],
    );
    if report.is_ok() {
        Ok(rules)
    } else {
        Err(format!("{:?}", report.errors))
    }
}

fn fires(condition: &str, ev: &Ev) -> bool {
    let rules = load_one(condition).unwrap_or_else(|e| panic!("{condition}: {e}"));
    rules.evaluate(ev, RuleMatching::First, |_| {}) == 1
}

#[test]
fn join_and_concat() {
    let ev = Ev {
        name: "nc",
        args: vec!["-e", "/bin/sh", "10.0.0.1", "4444"],
    };
    assert!(fires(
        r#"join(" ", t.args) = "-e /bin/sh 10.0.0.1 4444""#,
        &ev
    ));
    assert!(fires(r#"join(",", t.args) contains "sh,10.0""#, &ev));
    assert!(fires(r#"concat(t.name, " ", "x") = "nc x""#, &ev));
    assert!(fires(r#"concat(toupper(t.name), t.name) = "NCnc""#, &ev));
    // Type rules: join needs a list second, concat takes only strings.
    assert!(load_one(r#"join(" ", t.name) = "x""#).is_err());
    assert!(load_one(r#"concat(t.args, t.name) = "x""#).is_err());
    assert!(load_one(r#"concat(t.name) = "x""#).is_err());
}

#[test]
fn getopt_finds_options_like_getopt3() {
    let ev = Ev {
        name: "nc",
        args: vec!["-lvp", "4444", "-e", "/bin/sh", "host"],
    };
    // Selector: the value of -e; -p takes a value, so "4444" is consumed by it.
    assert!(fires(r#"getopt(t.args, "lvp:e:")[e] = "/bin/sh""#, &ev));
    assert!(fires(r#"getopt(t.args, "lvp:e:")[p] = "4444""#, &ev));
    assert!(fires(r#"getopt(t.args, "lvp:e:")[l] = "l""#, &ev));
    assert!(!fires(r#"getopt(t.args, "lvp:e:")[x] exists"#, &ev));
    // List form: options in order, each followed by its value.
    assert!(fires(
        r#"getopt(t.args, "lvp:e:") in (l, v, p, "4444", e, "/bin/sh")"#,
        &ev
    ));
    // Unknown options yield "?"; scanning stops at the first operand.
    let ev2 = Ev {
        name: "x",
        args: vec!["-z", "file", "-e", "y"],
    };
    assert!(fires(r#"getopt(t.args, "e:") in ("?")"#, &ev2));
    assert!(load_one(r#"getopt(t.name, "e:")[e] = "x""#).is_err());
    assert!(load_one(r#"getopt(t.args, "e:")[ee] = "x""#).is_err());
}

#[test]
fn printed_conditions_reparse() {
    use tripline_rules::condition::parse;
    for c in [
        r#"join(" ", t.args) = "a b""#,
        r#"getopt(t.args, "e:")[e] = "/bin/sh""#,
        r#"concat(t.name, "x", 5) = "nx5""#,
    ] {
        let tree = parse(c).unwrap();
        assert_eq!(parse(&tree.to_string()).unwrap(), tree, "{c}");
    }
}
