//! Upstream rule files shipped inside the binary, used when no `--rules` is given: the syscall
//! rules here, each log source's from its descriptor (`tripline_sources::Descriptor`).

use tripline_rules::falco::RulesFile;
use tripline_sources::SourceKind;

/// The syscall rules shipped: file name and text.
const SYSCALL: &[(&str, &str)] = &[(
    "falco_rules.yaml",
    include_str!("../../../data/falco/rules/falco_rules.yaml"),
)];

/// `(file name, source, text)` of every shipped rules file, in load order.
pub fn files() -> Vec<(&'static str, &'static str, &'static str)> {
    let mut out: Vec<_> = SYSCALL.iter().map(|(n, t)| (*n, "syscall", *t)).collect();
    for k in SourceKind::ALL {
        let d = k.descriptor();
        out.extend(d.rules.iter().map(|(n, t)| (*n, d.name, *t)));
    }
    out
}

/// The shipped rules for one source.
pub fn for_source(source: &str) -> Vec<RulesFile> {
    files()
        .into_iter()
        .filter(|(_, s, _)| *s == source)
        .map(|(name, _, text)| RulesFile {
            name: format!("<builtin>/{name}"),
            content: text.to_string(),
        })
        .collect()
}
