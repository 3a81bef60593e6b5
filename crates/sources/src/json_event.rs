//! Events decoded from JSON records (audit logs), and the plugin-style field extraction shared
//! by every JSON source.

use std::borrow::Cow;

use serde_json::Value as Json;
use tripline_event::{
    ArgSpec, Event, FieldArg, FieldDef, FieldRef, FieldTable, FieldType, SourceSchema, Value,
};

use crate::json_path::{self, Seg};

/// A hand-written extractor for fields whose value is derived, not read from one path.
pub type CustomFn = for<'a> fn(&'a JsonEvent, &FieldArg) -> Option<Value<'a>>;

/// How a path value that is not a JSON string becomes text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// k8saudit and json plugins: compact JSON text (`true`, `201`, `{"a":1}`).
    JsonText,
    /// cloudtrail plugin: an empty (but present) string.
    EmptyIfNotString,
}

#[derive(Debug, Clone)]
enum Extractor {
    Path {
        segs: Vec<Seg>,
        list: bool,
        ty: FieldType,
        style: Style,
    },
    Custom(CustomFn),
}

/// A JSON event source: its schema and one extractor per field.
#[derive(Debug)]
pub struct JsonSource {
    /// Name, fields and plugin equivalents.
    pub schema: SourceSchema,
    /// Falco plugin name reported by `evt.pluginname`.
    pub plugin_name: &'static str,
    extractors: Vec<Extractor>,
    /// Plugin fields are absent unless the record has this top-level key (k8saudit: `auditID`).
    gate: Option<&'static str>,
    /// Per field id: subject to the gate (computed once, not per event).
    gated: Vec<bool>,
}

impl JsonSource {
    /// Builds a source from an upstream field table (TSV with `name`, `type`, `list`, `arg`,
    /// `json_path`) plus hand-written extractors for derived fields. Every JSON source also
    /// gets the `evt.*` fields and the json plugin's `json.*`/`jevt.*` fields.
    ///
    /// Panics if a table row has neither a simple path nor a custom extractor: that is a
    /// programming error caught by each source's tests.
    pub fn build(
        name: &str,
        plugin_name: &'static str,
        tsv: &str,
        style: Style,
        customs: &[(&str, CustomFn)],
        extra: Vec<(FieldDef, CustomFn)>,
    ) -> JsonSource {
        let mut defs = Vec::new();
        let mut extractors = Vec::new();
        let table = FieldTable::from_tsv(tsv);
        let paths: Vec<&str> = tsv
            .lines()
            .skip(1)
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let header: Vec<&str> =
                    tsv.lines().next().unwrap_or_default().split('\t').collect();
                let col = header
                    .iter()
                    .position(|h| *h == "json_path")
                    .unwrap_or(usize::MAX);
                l.split('\t').nth(col).unwrap_or("")
            })
            .collect();
        for (def, path) in table.defs().iter().zip(paths) {
            let extractor = if let Some((_, f)) = customs.iter().find(|(n, _)| *n == def.name) {
                Extractor::Custom(*f)
            } else {
                let clean = path
                    .trim_end_matches(" (as implemented)")
                    .trim_end_matches(" (JSON text)");
                let segs = json_path::parse(clean).unwrap_or_else(|| {
                    panic!(
                        "field {} needs a custom extractor (path '{path}')",
                        def.name
                    )
                });
                Extractor::Path {
                    segs,
                    list: def.list,
                    ty: def.ty,
                    style,
                }
            };
            defs.push(def.clone());
            extractors.push(extractor);
        }
        for (def, f) in extra.into_iter().chain(common_fields()) {
            if defs.iter().any(|d: &FieldDef| d.name == def.name) {
                continue;
            }
            defs.push(def);
            extractors.push(Extractor::Custom(f));
        }
        JsonSource {
            schema: SourceSchema::new(name, FieldTable::new(defs)),
            plugin_name,
            extractors,
            gate: None,
            gated: Vec::new(),
        }
    }

    /// Fields starting with `prefix` are absent unless the record has top-level `key`.
    pub fn with_gate(mut self, prefix: &'static str, key: &'static str) -> JsonSource {
        self.gate = Some(key);
        self.gated = self
            .schema
            .fields
            .defs()
            .iter()
            .map(|d| d.name.starts_with(prefix))
            .collect();
        self
    }

    /// Adds plugin equivalents for `required_plugin_versions`.
    pub fn with_plugin(mut self, name: &str, version: &str) -> JsonSource {
        self.schema = self.schema.with_plugin(name, version);
        self
    }
}

/// One decoded JSON record.
#[derive(Debug)]
pub struct JsonEvent {
    source: &'static JsonSource,
    /// The record.
    pub json: Json,
    /// Event time (ns since the epoch).
    pub time_ns: u64,
    /// 1-based sequence number in the stream (`evt.num`).
    pub num: u64,
    /// Stream state some fields read: a label and the times (ns, this event's included) of
    /// related earlier events, e.g. the same Okta actor's MFA failures.
    pub window: Option<(&'static str, std::sync::Arc<[u64]>)>,
}

impl JsonEvent {
    /// Wraps a decoded record.
    pub fn new(source: &'static JsonSource, json: Json, time_ns: u64, num: u64) -> JsonEvent {
        JsonEvent {
            source,
            json,
            time_ns,
            num,
            window: None,
        }
    }

    /// The source definition.
    pub fn json_source(&self) -> &'static JsonSource {
        self.source
    }
}

impl Event for JsonEvent {
    fn source(&self) -> &str {
        &self.source.schema.name
    }

    fn time_ns(&self) -> u64 {
        self.time_ns
    }

    fn extract<'e>(&'e self, field: &FieldRef) -> Option<Value<'e>> {
        let src = self.source;
        if let Some(key) = src.gate {
            if src.gated[field.id as usize] && self.json.get(key).is_none() {
                return None;
            }
        }
        match &src.extractors[field.id as usize] {
            Extractor::Custom(f) => f(self, &field.arg),
            Extractor::Path {
                segs,
                list,
                ty,
                style,
            } => {
                let index = match field.arg {
                    FieldArg::Index(i) => Some(i),
                    _ => None,
                };
                let mut found = Vec::new();
                json_path::walk(&self.json, segs, index, &mut found);
                let convert = |v: &'e Json| convert(v, *style, *ty);
                if *list {
                    let values: Vec<Value> = found.into_iter().filter_map(convert).collect();
                    (!values.is_empty()).then_some(Value::List(values))
                } else {
                    found.first().and_then(|v| convert(v))
                }
            }
        }
    }
}

fn convert(v: &Json, style: Style, ty: FieldType) -> Option<Value<'_>> {
    if style == Style::EmptyIfNotString && !v.is_string() && ty == FieldType::String {
        return Some(Value::Str(Cow::Borrowed("")));
    }
    json_path::typed(v, ty)
}

fn def(name: &str, ty: FieldType, arg: ArgSpec, desc: &str) -> FieldDef {
    let mut d = FieldDef::new(name, ty, desc);
    d.arg = arg;
    d
}

/// `evt.*` fields every plugin event has, and the json plugin's fields.
fn common_fields() -> Vec<(FieldDef, CustomFn)> {
    use ArgSpec::*;
    use FieldType::*;
    vec![
        (
            def("evt.num", Unsigned, None, "Sequence number of the event."),
            |e, _| Some(Value::Unsigned(e.num)),
        ),
        (
            def(
                "evt.time",
                String,
                None,
                "Event time (HH:MM:SS.nnnnnnnnn, UTC).",
            ),
            |e, _| Some(Value::from(time_text(e.time_ns).1)),
        ),
        (
            def("evt.time.s", String, None, "Event time (HH:MM:SS, UTC)."),
            |e, _| Some(Value::from(time_text(e.time_ns).1[..8].to_string())),
        ),
        (
            def("evt.time.iso8601", String, None, "Event time, ISO 8601."),
            |e, _| Some(Value::from(time_text(e.time_ns).0)),
        ),
        (
            def("evt.datetime", String, None, "Event date and time."),
            |e, _| {
                let t = time_text(e.time_ns).0;
                Some(Value::from(t[..19].replace('T', " ")))
            },
        ),
        (
            def(
                "evt.datetime.s",
                String,
                None,
                "Event date and time (seconds).",
            ),
            |e, _| {
                let t = time_text(e.time_ns).0;
                Some(Value::from(t[..19].replace('T', " ")))
            },
        ),
        (
            def(
                "evt.rawtime",
                Unsigned,
                None,
                "Event time, ns since the epoch.",
            ),
            |e, _| Some(Value::Unsigned(e.time_ns)),
        ),
        (
            def(
                "evt.rawtime.s",
                Unsigned,
                None,
                "Event time, seconds since the epoch.",
            ),
            |e, _| Some(Value::Unsigned(e.time_ns / 1_000_000_000)),
        ),
        (
            def(
                "evt.rawtime.ns",
                Unsigned,
                None,
                "Nanoseconds part of the event time.",
            ),
            |e, _| Some(Value::Unsigned(e.time_ns % 1_000_000_000)),
        ),
        (
            def("evt.source", String, None, "Event source name."),
            |e, _| Some(Value::from(e.source.schema.name.as_str())),
        ),
        (
            def(
                "evt.pluginname",
                String,
                None,
                "Name of the plugin this source stands in for.",
            ),
            |e, _| Some(Value::from(e.source.plugin_name)),
        ),
        (
            def("evt.plugininfo", String, None, "Summary line of the event."),
            |e, _| Some(Value::from(e.json.to_string())),
        ),
        (
            def(
                "evt.type",
                String,
                None,
                "Event type (plugin events: pluginevent).",
            ),
            |_, _| Some(Value::from("pluginevent")),
        ),
        (def("evt.hostname", String, None, "Host name."), |_, _| {
            Option::None
        }),
        (
            def(
                "json.value",
                String,
                RequiredKey,
                "Value at a JSON pointer.",
            ),
            json_value,
        ),
        (
            def("json.obj", String, None, "The whole event as JSON."),
            json_obj,
        ),
        (
            def("json.rawtime", String, None, "Event time in ns, as text."),
            |e, _| Some(Value::from(e.time_ns.to_string())),
        ),
        (
            def("jevt.value", String, RequiredKey, "Alias of json.value."),
            json_value,
        ),
        (
            def("jevt.obj", String, None, "Alias of json.obj."),
            json_obj,
        ),
        (
            def("jevt.rawtime", String, None, "Alias of json.rawtime."),
            |e, _| Some(Value::from(e.time_ns.to_string())),
        ),
    ]
}

fn json_value<'a>(e: &'a JsonEvent, arg: &FieldArg) -> Option<Value<'a>> {
    let FieldArg::Key(pointer) = arg else {
        return None;
    };
    e.json
        .pointer(pointer)
        .map(|v| Value::Str(json_path::text(v)))
}

fn json_obj<'a>(e: &'a JsonEvent, _: &FieldArg) -> Option<Value<'a>> {
    serde_json::to_string_pretty(&e.json).ok().map(Value::from)
}

/// (ISO 8601 with `+0000`, clock time) for an epoch-ns time, UTC.
fn time_text(ns: u64) -> (String, String) {
    (
        tripline_event::format_iso8601(ns),
        tripline_event::format_clock(ns),
    )
}

/// Parses an RFC 3339 timestamp into ns since the epoch.
pub fn parse_time(text: &str) -> Option<u64> {
    let t = chrono::DateTime::parse_from_rfc3339(text).ok()?;
    u64::try_from(t.timestamp_nanos_opt()?).ok()
}
