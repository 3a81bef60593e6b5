//! Reads rules files item by item and collects lists, macros and rules, applying
//! redefinition, `append` and `override` the way Falco's rule loader does.

use std::collections::{BTreeSet, HashMap};

use tripline_event::{parse_semver, Priority, SourceSchema};

use super::exceptions::{Exception, Fields};
use super::yaml::{self, Kind, Node};
use crate::condition::Op;
use crate::diagnostic::{Code, Diagnostic, LoadReport};

/// Rules engine version Tripline implements (Falco 0.44.1's engine).
pub const ENGINE_VERSION: &str = "0.62.0";

/// Where and in what order an item was defined.
#[derive(Debug, Clone)]
pub struct Slot {
    /// Position of the first definition (evaluation order).
    pub index: usize,
    /// Counter at the last define/append/override (what the item may see).
    pub visibility: usize,
    /// File of the first definition.
    pub file: String,
    /// Line of the first definition.
    pub line: usize,
}

/// A collected list.
#[derive(Debug, Clone)]
pub struct ListDef {
    /// Name.
    pub name: String,
    /// Items as written (list references still unexpanded).
    pub items: Vec<String>,
    /// Ordering.
    pub slot: Slot,
}

/// A collected macro.
#[derive(Debug, Clone)]
pub struct MacroDef {
    /// Name.
    pub name: String,
    /// Condition text after appends.
    pub condition: String,
    /// Ordering.
    pub slot: Slot,
}

/// A collected rule.
#[derive(Debug, Clone)]
pub struct RuleDef {
    /// Name.
    pub name: String,
    /// Condition text after appends.
    pub condition: String,
    /// Output template.
    pub output: String,
    /// Description.
    pub desc: String,
    /// Priority.
    pub priority: Priority,
    /// Event source.
    pub source: String,
    /// Enabled flag.
    pub enabled: bool,
    /// Tags.
    pub tags: BTreeSet<String>,
    /// Exceptions after merging.
    pub exceptions: Vec<Exception>,
    /// Warn when the rule has no event-type restriction.
    pub warn_evttypes: bool,
    /// Skip instead of failing on unknown fields.
    pub skip_if_unknown_filter: bool,
    /// Ordering.
    pub slot: Slot,
}

/// Everything read from all files.
#[derive(Debug, Default)]
pub struct Collected {
    /// Lists in definition order.
    pub lists: Vec<ListDef>,
    /// Macros in definition order.
    pub macros: Vec<MacroDef>,
    /// Rules in definition order.
    pub rules: Vec<RuleDef>,
    counter: usize,
}

/// Reads files into a [`Collected`] set.
pub struct Collector<'a> {
    sources: &'a [SourceSchema],
    /// What was read.
    pub collected: Collected,
    /// Diagnostics.
    pub report: LoadReport,
    file: String,
}

struct Bail;

const RULE_KEYS: &[&str] = &[
    "rule",
    "condition",
    "output",
    "desc",
    "priority",
    "source",
    "enabled",
    "tags",
    "exceptions",
    "warn_evttypes",
    "skip-if-unknown-filter",
    "capture",
    "capture_duration",
    "append",
    "override",
];
const APPENDABLE: &[&str] = &["condition", "output", "desc", "tags", "exceptions"];
const REPLACEABLE: &[&str] = &[
    "condition",
    "output",
    "desc",
    "priority",
    "tags",
    "exceptions",
    "enabled",
    "warn_evttypes",
    "skip-if-unknown-filter",
    "capture",
    "capture_duration",
];

impl<'a> Collector<'a> {
    /// A collector for rules over the given sources.
    pub fn new(sources: &'a [SourceSchema]) -> Collector<'a> {
        Collector {
            sources,
            collected: Collected::default(),
            report: LoadReport::default(),
            file: String::new(),
        }
    }

    fn diag(&mut self, code: Code, item_type: &'static str, name: &str, line: usize, msg: String) {
        self.report.push(Diagnostic {
            code,
            item_type,
            item_name: name.to_string(),
            message: msg,
            file: self.file.clone(),
            line,
        });
    }

    fn fail(
        &mut self,
        code: Code,
        item_type: &'static str,
        name: &str,
        line: usize,
        msg: &str,
    ) -> Bail {
        self.diag(code, item_type, name, line, msg.to_string());
        Bail
    }

    /// Reads one file. Stops at the file's first error, as Falco does.
    pub fn read_file(&mut self, file: &str, content: &str) {
        self.file = file.to_string();
        let docs = match yaml::parse_documents(content) {
            Ok(d) => d,
            Err(e) => {
                let line = e.line;
                self.diag(Code::ErrYamlParse, "rules content", "", line, e.message);
                return;
            }
        };
        for doc in docs {
            let items = match &doc.kind {
                Kind::Null => continue,
                Kind::Scalar { .. } => {
                    self.diag(
                        Code::ErrYamlValidate,
                        "rules content",
                        "",
                        doc.line,
                        "Rules content is not yaml".into(),
                    );
                    return;
                }
                Kind::Map(_) => {
                    self.diag(
                        Code::ErrYamlValidate,
                        "rules content",
                        "",
                        doc.line,
                        "Rules content is not yaml array of objects".into(),
                    );
                    return;
                }
                Kind::Seq(items) => items,
            };
            for item in items {
                if item.is_null() {
                    continue;
                }
                if !matches!(item.kind, Kind::Map(_)) {
                    self.diag(
                        Code::ErrYamlValidate,
                        "rules content item",
                        "",
                        item.line,
                        "Unexpected element type. Each element should be a yaml associative array."
                            .into(),
                    );
                    return;
                }
                if self.read_item(item).is_err() {
                    return;
                }
            }
        }
    }

    fn read_item(&mut self, item: &Node) -> Result<(), Bail> {
        if let Some(v) = item.get("required_engine_version") {
            return self.engine_version(v, item.line);
        }
        if let Some(v) = item.get("required_plugin_versions") {
            return self.plugin_versions(v, item.line);
        }
        if item.get("list").is_some() {
            return self.list(item);
        }
        if item.get("macro").is_some() {
            return self.macro_item(item);
        }
        if item.get("rule").is_some() {
            return self.rule(item);
        }
        self.diag(
            Code::UnknownItem,
            "rules content item",
            "",
            item.line,
            "Unknown top level item".into(),
        );
        Ok(())
    }

    fn engine_version(&mut self, v: &Node, line: usize) -> Result<(), Bail> {
        let text = v.as_str().unwrap_or_default().to_string();
        let Some(want) = parse_semver(&text) else {
            return Err(self.fail(
                Code::ErrYamlValidate,
                "required_engine_version",
                "",
                line,
                &format!(
                    "Unable to parse engine version '{text}' as a semver string. Expected \"x.y.z\" semver format."
                ),
            ));
        };
        let have = parse_semver(ENGINE_VERSION).expect("engine version is semver");
        if want.0 != have.0 || want > have {
            return Err(self.fail(
                Code::ErrValidate,
                "required_engine_version",
                "",
                line,
                &format!(
                    "Rules require engine version {}.{}.{}, but engine version is {ENGINE_VERSION}",
                    want.0, want.1, want.2
                ),
            ));
        }
        Ok(())
    }

    fn plugin_versions(&mut self, v: &Node, line: usize) -> Result<(), Bail> {
        let Kind::Seq(reqs) = &v.kind else {
            return Err(self.fail(
                Code::ErrYamlValidate,
                "required_plugin_versions",
                "",
                line,
                "Value of 'required_plugin_versions' must be a sequence",
            ));
        };
        for req in reqs {
            let mut options = Vec::new();
            let name = req.get("name").and_then(Node::as_str).unwrap_or_default();
            let version = req
                .get("version")
                .and_then(Node::as_str)
                .unwrap_or_default();
            if name.is_empty() || version.is_empty() {
                return Err(self.fail(
                    Code::ErrYamlValidate,
                    "required_plugin_versions",
                    name,
                    req.line,
                    "Item has no mapping for key 'name' or 'version'",
                ));
            }
            options.push((name.to_string(), version.to_string()));
            if let Some(Kind::Seq(alts)) = req.get("alternatives").map(|a| &a.kind) {
                for alt in alts {
                    let n = alt.get("name").and_then(Node::as_str).unwrap_or_default();
                    let ver = alt
                        .get("version")
                        .and_then(Node::as_str)
                        .unwrap_or_default();
                    options.push((n.to_string(), ver.to_string()));
                }
            }
            let mut seen = BTreeSet::new();
            for (n, _) in &options {
                if !seen.insert(n) {
                    return Err(self.fail(
                        Code::ErrYamlValidate,
                        "required_plugin_versions",
                        n,
                        req.line,
                        &format!("Duplicate plugin name '{n}' in alternatives"),
                    ));
                }
            }
            let ok = options
                .iter()
                .any(|(n, ver)| self.sources.iter().any(|s| s.provides_plugin(n, ver)));
            if !ok {
                let list = options
                    .iter()
                    .map(|(n, ver)| format!("{n} (>= {ver})"))
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(self.fail(
                    Code::ErrValidate,
                    "required_plugin_versions",
                    name,
                    req.line,
                    &format!("Plugin requirement not satisfied, must load one of: {list}"),
                ));
            }
        }
        Ok(())
    }

    fn name_of(&mut self, item: &Node, key: &str, item_type: &'static str) -> Result<String, Bail> {
        match item.get(key).and_then(Node::as_str) {
            Some(n) if !n.is_empty() => Ok(n.to_string()),
            _ => Err(self.fail(
                Code::ErrYamlValidate,
                item_type,
                "",
                item.line,
                &format!("Mapping for key '{key}' is empty"),
            )),
        }
    }

    /// `append: true` (warns: deprecated).
    fn append_flag(&mut self, item: &Node, item_type: &'static str, name: &str) -> bool {
        let append = item.get("append").and_then(Node::as_bool) == Some(true);
        if append {
            self.diag(
                Code::DeprecatedItem,
                item_type,
                name,
                item.line,
                "The 'append' key is deprecated. Please use 'override' instead.".into(),
            );
        }
        append
    }

    /// Validates an `override:` mapping; returns key → append (true) / replace (false).
    fn overrides(
        &mut self,
        item: &Node,
        item_type: &'static str,
        name: &str,
        appendable: &[&str],
        replaceable: &[&str],
        append: bool,
    ) -> Result<Option<HashMap<String, bool>>, Bail> {
        let Some(ov) = item.get("override") else {
            return Ok(None);
        };
        if append {
            return Err(self.fail(
                Code::ErrYamlValidate,
                item_type,
                name,
                item.line,
                "Keys 'override' and 'append: true' cannot be used together. Add an 'append' entry (e.g. 'condition: append') under 'override' instead.",
            ));
        }
        let Kind::Map(entries) = &ov.kind else {
            return Err(self.fail(
                Code::ErrYamlValidate,
                item_type,
                name,
                ov.line,
                "Value of 'override' must be a map",
            ));
        };
        let mut out = HashMap::new();
        for (k, v) in entries {
            let key = k.as_str().unwrap_or_default();
            let how = v.as_str().unwrap_or_default();
            let ok = match how {
                "append" => appendable.contains(&key),
                "replace" => replaceable.contains(&key),
                _ => false,
            };
            if !ok {
                return Err(self.fail(
                    Code::ErrYamlValidate,
                    item_type,
                    name,
                    v.line,
                    &format!("Key '{key}' cannot be overridden with '{how}'"),
                ));
            }
            if item.get(key).is_none() {
                return Err(self.fail(
                    Code::ErrYamlValidate,
                    item_type,
                    name,
                    v.line,
                    &format!(
                        "An 'override' entry for '{key}' was specified but '{key}' is not defined"
                    ),
                ));
            }
            out.insert(key.to_string(), how == "append");
        }
        for key in item.keys() {
            let overridable = appendable.contains(&key) || replaceable.contains(&key);
            if overridable && !out.contains_key(key) {
                return Err(self.fail(
                    Code::ErrYamlValidate,
                    item_type,
                    name,
                    item.line,
                    &format!("Unexpected key '{key}': no corresponding entry under 'override' is defined."),
                ));
            }
        }
        Ok(Some(out))
    }

    fn unknown_keys(&mut self, item: &Node, allowed: &[&str], item_type: &'static str, name: &str) {
        for key in item.keys() {
            if !allowed.contains(&key) {
                self.diag(
                    Code::UnknownKey,
                    item_type,
                    name,
                    item.line,
                    format!("Unknown key '{key}'. The key will be ignored."),
                );
            }
        }
    }

    fn next_index(&mut self) -> usize {
        self.collected.counter += 1;
        self.collected.counter
    }

    fn slot(&mut self, line: usize) -> Slot {
        let index = self.next_index();
        Slot {
            index,
            visibility: index,
            file: self.file.clone(),
            line,
        }
    }

    fn list(&mut self, item: &Node) -> Result<(), Bail> {
        let name = self.name_of(item, "list", "list")?;
        self.unknown_keys(
            item,
            &["list", "items", "append", "override"],
            "list",
            &name,
        );
        if !valid_list_name(&name) {
            self.diag(
                Code::InvalidListName,
                "list",
                &name,
                item.line,
                "List has an invalid name. List names should match a regular expression: ^[^()\"'[:space:]=,]+$".into(),
            );
        }
        let append = self.append_flag(item, "list", &name);
        let ov = self.overrides(item, "list", &name, &["items"], &["items"], append)?;
        let items = match item.get("items").map(|n| &n.kind) {
            Some(Kind::Seq(seq)) => {
                let mut out = Vec::new();
                for n in seq {
                    match &n.kind {
                        Kind::Scalar { text, .. } => out.push(text.clone()),
                        Kind::Null => {}
                        _ => {
                            return Err(self.fail(
                                Code::ErrYamlValidate,
                                "list",
                                &name,
                                n.line,
                                "List items must be scalars",
                            ))
                        }
                    }
                }
                out
            }
            Some(Kind::Null) => Vec::new(),
            Some(_) => {
                return Err(self.fail(
                    Code::ErrYamlValidate,
                    "list",
                    &name,
                    item.line,
                    "Value of 'items' must be a sequence",
                ))
            }
            None => {
                return Err(self.fail(
                    Code::ErrYamlValidate,
                    "list",
                    &name,
                    item.line,
                    "Item has no mapping for key 'items'",
                ))
            }
        };
        let existing = self.collected.lists.iter().position(|l| l.name == name);
        let appending = append || ov.as_ref().is_some_and(|o| o["items"]);
        let overriding = ov.is_some();
        match existing {
            Some(i) => {
                let vis = self.next_index();
                let l = &mut self.collected.lists[i];
                l.slot.visibility = vis;
                if appending {
                    l.items.extend(items);
                } else {
                    l.items = items;
                }
            }
            None if append || overriding => {
                return Err(self.fail(
                    Code::ErrValidate,
                    "list",
                    &name,
                    item.line,
                    &format!(
                        "List has '{}' key but no list by that name already exists",
                        if append { "append" } else { "override" }
                    ),
                ))
            }
            None => {
                let slot = self.slot(item.line);
                self.collected.lists.push(ListDef { name, items, slot });
            }
        }
        Ok(())
    }

    fn macro_item(&mut self, item: &Node) -> Result<(), Bail> {
        let name = self.name_of(item, "macro", "macro")?;
        self.unknown_keys(
            item,
            &["macro", "condition", "append", "override"],
            "macro",
            &name,
        );
        if !valid_macro_name(&name) {
            self.diag(
                Code::InvalidMacroName,
                "macro",
                &name,
                item.line,
                "Macro has an invalid name. Macro names should match a regular expression: ^[a-zA-Z]+[a-zA-Z0-9_]*$".into(),
            );
        }
        let append = self.append_flag(item, "macro", &name);
        let ov = self.overrides(item, "macro", &name, &["condition"], &["condition"], append)?;
        let Some(condition) = item
            .get("condition")
            .and_then(Node::as_str)
            .map(str::to_string)
        else {
            return Err(self.fail(
                Code::ErrYamlValidate,
                "macro",
                &name,
                item.line,
                "Item has no mapping for key 'condition'",
            ));
        };
        let existing = self.collected.macros.iter().position(|m| m.name == name);
        let appending = append || ov.as_ref().is_some_and(|o| o["condition"]);
        match existing {
            Some(i) => {
                let vis = self.next_index();
                let m = &mut self.collected.macros[i];
                m.slot.visibility = vis;
                if appending {
                    m.condition = format!("{} {condition}", m.condition);
                } else {
                    m.condition = condition;
                }
            }
            None if append || ov.is_some() => {
                return Err(self.fail(
                    Code::ErrValidate,
                    "macro",
                    &name,
                    item.line,
                    &format!(
                        "Macro has '{}' key but no macro by that name already exists",
                        if append { "append" } else { "override" }
                    ),
                ))
            }
            None => {
                let slot = self.slot(item.line);
                self.collected.macros.push(MacroDef {
                    name,
                    condition,
                    slot,
                });
            }
        }
        Ok(())
    }

    fn rule(&mut self, item: &Node) -> Result<(), Bail> {
        let name = self.name_of(item, "rule", "rule")?;
        self.unknown_keys(item, RULE_KEYS, "rule", &name);
        let append = self.append_flag(item, "rule", &name);
        let ov = self.overrides(item, "rule", &name, APPENDABLE, REPLACEABLE, append)?;
        let existing = self.collected.rules.iter().position(|r| r.name == name);
        let text = |k: &str| item.get(k).and_then(Node::as_str).map(str::to_string);

        if let Some(src) = text("source") {
            if let Some(i) = existing {
                if self.collected.rules[i].source != src && (append || ov.is_some()) {
                    return Err(self.fail(
                        Code::ErrValidate,
                        "rule",
                        &name,
                        item.line,
                        "Rule has been re-defined with a different source",
                    ));
                }
            }
        }

        if append {
            if item.get("condition").is_none() && item.get("exceptions").is_none() {
                return Err(self.fail(
                    Code::ErrValidate,
                    "rule",
                    &name,
                    item.line,
                    "Appended rule must have exceptions or condition property",
                ));
            }
            let Some(i) = existing else {
                return Err(self.fail(
                    Code::ErrValidate,
                    "rule",
                    &name,
                    item.line,
                    "Rule has 'append' key but no rule by that name already exists",
                ));
            };
            let exceptions = self.exceptions(item, &name, true)?;
            let vis = self.next_index();
            let r = &mut self.collected.rules[i];
            r.slot.visibility = vis;
            if let Some(c) = text("condition") {
                r.condition = format!("{} {c}", r.condition);
            }
            let mut r = r.clone();
            self.merge_exceptions(&mut r, exceptions)?;
            self.collected.rules[i] = r;
            return Ok(());
        }

        if let Some(ov) = ov {
            let Some(i) = existing else {
                return Err(self.fail(
                    Code::ErrValidate,
                    "rule",
                    &name,
                    item.line,
                    "Rule has 'override' key but no rule by that name already exists",
                ));
            };
            let mut r = self.collected.rules[i].clone();
            for (key, is_append) in &ov {
                let key = key.as_str();
                match key {
                    "condition" | "output" | "desc" => {
                        let v = text(key).unwrap_or_default();
                        let field = match key {
                            "condition" => &mut r.condition,
                            "output" => &mut r.output,
                            _ => &mut r.desc,
                        };
                        *field = if *is_append {
                            format!("{field} {v}")
                        } else {
                            v
                        };
                    }
                    "tags" => {
                        let tags = tags_of(item.get("tags"));
                        if !*is_append {
                            r.tags.clear();
                        }
                        r.tags.extend(tags);
                    }
                    "exceptions" => {
                        let ex = self.exceptions(item, &name, *is_append)?;
                        if *is_append {
                            self.merge_exceptions(&mut r, ex)?;
                        } else {
                            r.exceptions = ex;
                        }
                    }
                    "priority" => r.priority = self.priority(item, &name)?,
                    "enabled" => {
                        r.enabled = item.get("enabled").and_then(Node::as_bool).unwrap_or(true)
                    }
                    "warn_evttypes" => {
                        r.warn_evttypes = item.get(key).and_then(Node::as_bool).unwrap_or(true)
                    }
                    "skip-if-unknown-filter" => {
                        r.skip_if_unknown_filter =
                            item.get(key).and_then(Node::as_bool).unwrap_or(false)
                    }
                    _ => {} // capture, capture_duration: no effect on matching.
                }
            }
            r.slot.visibility = self.next_index();
            self.collected.rules[i] = r;
            return Ok(());
        }

        let defines = ["condition", "output", "desc", "priority"]
            .iter()
            .any(|k| item.get(k).is_some());
        if !defines && item.get("enabled").is_some() {
            // Deprecated enable-only item.
            let Some(i) = existing else {
                return Err(self.fail(
                    Code::ErrValidate,
                    "rule",
                    &name,
                    item.line,
                    "Rule has 'enabled' key but no rule by that name already exists",
                ));
            };
            self.collected.rules[i].enabled =
                item.get("enabled").and_then(Node::as_bool).unwrap_or(true);
            return Ok(());
        }

        for key in ["condition", "output", "desc", "priority"] {
            if item.get(key).is_none() {
                return Err(self.fail(
                    Code::ErrYamlValidate,
                    "rule",
                    &name,
                    item.line,
                    &format!("Item has no mapping for key '{key}'"),
                ));
            }
        }
        let priority = self.priority(item, &name)?;
        let source = text("source").unwrap_or_else(|| "syscall".to_string());
        let exceptions = self.exceptions(item, &name, false)?;
        let mut rule = RuleDef {
            name: name.clone(),
            condition: text("condition").unwrap_or_default(),
            output: text("output").unwrap_or_default().trim().to_string(),
            desc: text("desc").unwrap_or_default(),
            priority,
            source,
            enabled: item.get("enabled").and_then(Node::as_bool).unwrap_or(true),
            tags: tags_of(item.get("tags")),
            exceptions: Vec::new(),
            warn_evttypes: item
                .get("warn_evttypes")
                .and_then(Node::as_bool)
                .unwrap_or(true),
            skip_if_unknown_filter: item
                .get("skip-if-unknown-filter")
                .and_then(Node::as_bool)
                .unwrap_or(false),
            slot: Slot {
                index: 0,
                visibility: 0,
                file: self.file.clone(),
                line: item.line,
            },
        };
        self.merge_exceptions(&mut rule, exceptions)?;
        match existing {
            Some(i) => {
                if self.collected.rules[i].source != rule.source {
                    return Err(self.fail(
                        Code::ErrValidate,
                        "rule",
                        &name,
                        item.line,
                        "Rule has been re-defined with a different source",
                    ));
                }
                rule.slot.index = self.collected.rules[i].slot.index;
                rule.slot.visibility = self.next_index();
                self.collected.rules[i] = rule;
            }
            None => {
                rule.slot = self.slot(item.line);
                self.collected.rules.push(rule);
            }
        }
        Ok(())
    }

    fn priority(&mut self, item: &Node, name: &str) -> Result<Priority, Bail> {
        let text = item
            .get("priority")
            .and_then(Node::as_str)
            .unwrap_or_default();
        text.parse().map_err(|_| {
            self.fail(
                Code::ErrYamlValidate,
                "rule",
                name,
                item.line,
                &format!("Invalid priority '{text}'"),
            )
        })
    }

    /// Decodes `exceptions:`; in an append, entries may carry only `name` and `values`.
    fn exceptions(
        &mut self,
        item: &Node,
        rule: &str,
        appending: bool,
    ) -> Result<Vec<Exception>, Bail> {
        let Some(node) = item.get("exceptions") else {
            return Ok(Vec::new());
        };
        let Kind::Seq(entries) = &node.kind else {
            return Err(self.fail(
                Code::ErrYamlValidate,
                "rule",
                rule,
                node.line,
                "Rule exceptions must be a sequence",
            ));
        };
        let mut out = Vec::new();
        for e in entries {
            let Some(name) = e
                .get("name")
                .and_then(Node::as_str)
                .filter(|n| !n.is_empty())
            else {
                return Err(self.fail(
                    Code::ErrYamlValidate,
                    "exception",
                    "",
                    e.line,
                    "Item has no mapping for key 'name'",
                ));
            };
            let fields = match e.get("fields").map(|f| &f.kind) {
                Some(Kind::Scalar { text, .. }) => Some(Fields::One(text.clone())),
                Some(Kind::Seq(items)) => Some(Fields::Many(
                    items
                        .iter()
                        .filter_map(|i| i.as_str().map(str::to_string))
                        .collect(),
                )),
                _ => None,
            };
            let comps: Vec<String> = match e.get("comps").map(|c| &c.kind) {
                Some(Kind::Scalar { text, .. }) => vec![text.trim().to_string()],
                Some(Kind::Seq(items)) => items
                    .iter()
                    .filter_map(|i| i.as_str().map(|s| s.trim().to_string()))
                    .collect(),
                _ => Vec::new(),
            };
            let values = match e.get("values").map(|v| &v.kind) {
                Some(Kind::Seq(items)) => items.clone(),
                _ => Vec::new(),
            };
            let fields = match fields {
                Some(f) => f,
                None if appending => Fields::Many(Vec::new()),
                None => {
                    return Err(self.fail(
                        Code::ErrYamlValidate,
                        "exception",
                        name,
                        e.line,
                        "Item has no mapping for key 'fields'",
                    ))
                }
            };
            out.push(Exception {
                name: name.to_string(),
                fields,
                comps,
                values,
                line: e.line,
                has_fields: e.get("fields").is_some(),
            });
        }
        Ok(out)
    }

    /// Merges exceptions into a rule and validates them against the rule's source.
    fn merge_exceptions(&mut self, rule: &mut RuleDef, new: Vec<Exception>) -> Result<(), Bail> {
        for mut e in new {
            let bare = !e.has_fields;
            let e_line = e.line;
            if let Some(existing) = rule.exceptions.iter_mut().find(|x| x.name == e.name) {
                if !bare {
                    return Err(self.fail(
                        Code::ErrValidate,
                        "exception",
                        &e.name,
                        e_line,
                        "An appended exception with an existing name may only add values",
                    ));
                }
                if e.values.is_empty() {
                    self.diag(
                        Code::AppendNoValues,
                        "exception",
                        &e.name,
                        e_line,
                        "Overriding/appending exception with no values".into(),
                    );
                }
                existing.values.extend(e.values);
                let existing = existing.clone();
                self.validate_exception(rule, &existing, e_line)?;
                continue;
            }
            if bare {
                return Err(self.fail(
                    Code::ErrYamlValidate,
                    "exception",
                    &e.name,
                    e_line,
                    "Item has no mapping for key 'fields'",
                ));
            }
            if e.comps.is_empty() {
                e.comps = match &e.fields {
                    Fields::One(_) => vec!["in".to_string()],
                    Fields::Many(f) => vec!["=".to_string(); f.len()],
                };
            }
            self.validate_exception(rule, &e, e_line)?;
            rule.exceptions.push(e);
        }
        Ok(())
    }

    fn validate_exception(
        &mut self,
        rule: &RuleDef,
        e: &Exception,
        line: usize,
    ) -> Result<(), Bail> {
        let Some(schema) = self.sources.iter().find(|s| s.name == rule.source) else {
            return Ok(()); // Unknown source: the rule is skipped later with a warning.
        };
        let fields: Vec<&String> = match &e.fields {
            Fields::One(f) => vec![f],
            Fields::Many(f) => f.iter().collect(),
        };
        for f in &fields {
            let (name, arg) = match f.find('[') {
                Some(i) => (&f[..i], Some(f[i + 1..].trim_end_matches(']').to_string())),
                None => (f.as_str(), None),
            };
            let arg = arg.map(tripline_event::FieldArg::Key).unwrap_or_default();
            if schema.fields.bind(name, arg).is_err() {
                return Err(self.fail(
                    Code::ErrValidate,
                    "exception",
                    &e.name,
                    line,
                    &format!("'{f}' is not a supported filter field"),
                ));
            }
        }
        for comp in &e.comps {
            let base = comp
                .strip_suffix(" oneof")
                .or_else(|| comp.strip_suffix(" anyof"))
                .or_else(|| comp.strip_suffix(" allof"))
                .unwrap_or(comp);
            if Op::from_text(base.trim()).is_none() {
                return Err(self.fail(
                    Code::ErrValidate,
                    "exception",
                    &e.name,
                    line,
                    &format!("'{comp}' is not a supported comparison operator"),
                ));
            }
        }
        match &e.fields {
            Fields::One(_) => {
                let comp = e.comps.first().map_or("in", String::as_str);
                if !matches!(comp, "in" | "pmatch" | "intersects") && !comp.ends_with("of") {
                    return Err(self.fail(
                        Code::ErrValidate,
                        "exception",
                        &e.name,
                        line,
                        &format!("When fields is a single value, comps must be one of (in, pmatch, intersects), got '{comp}'"),
                    ));
                }
            }
            Fields::Many(f) => {
                if e.comps.len() != f.len() {
                    return Err(self.fail(
                        Code::ErrValidate,
                        "exception",
                        &e.name,
                        line,
                        "Fields and comps lists must have equal length",
                    ));
                }
                for v in &e.values {
                    let ok = matches!(&v.kind, Kind::Seq(items) if items.len() == f.len());
                    if !ok {
                        return Err(self.fail(
                            Code::ErrValidate,
                            "exception",
                            &e.name,
                            v.line,
                            "Fields and values lists must have equal length",
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

fn tags_of(node: Option<&Node>) -> BTreeSet<String> {
    match node.map(|n| &n.kind) {
        Some(Kind::Seq(items)) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_string))
            .collect(),
        Some(Kind::Scalar { text, .. }) => [text.clone()].into(),
        _ => BTreeSet::new(),
    }
}

fn valid_list_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| matches!(c, '(' | ')' | '"' | '\'' | '=' | ',') || c.is_whitespace())
}

fn valid_macro_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
