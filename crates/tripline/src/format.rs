//! Alert renderings: Falco's text line and Falco's JSON alert object.

use serde_json::{json, Map, Value};
use tripline_event::Finding;

/// Output settings (Falco's `json_include_*` and `time_format_iso_8601`).
#[derive(Debug, Clone, Copy)]
pub struct FormatOptions {
    /// `YYYY-MM-DDTHH:MM:SS.nnnnnnnnn+0000` instead of `HH:MM:SS.nnnnnnnnn` in text lines.
    pub iso8601: bool,
    /// Include `output` in JSON.
    pub include_output: bool,
    /// Include `output_fields` in JSON.
    pub include_output_fields: bool,
    /// Include `tags` in JSON.
    pub include_tags: bool,
}

impl Default for FormatOptions {
    fn default() -> Self {
        FormatOptions {
            iso8601: true,
            include_output: true,
            include_output_fields: true,
            include_tags: true,
        }
    }
}

/// `<time>: <Priority> <message>`.
pub fn text_line(f: &Finding, opts: &FormatOptions) -> String {
    let time = if opts.iso8601 {
        f.iso8601_time()
    } else {
        f.clock_time()
    };
    format!("{time}: {} {}", f.priority, f.message)
}

/// Falco's JSON alert object (keys in Falco's order; accepted by Falcosidekick).
pub fn json_alert(f: &Finding, opts: &FormatOptions) -> Value {
    let mut obj = Map::new();
    obj.insert("hostname".into(), json!(f.hostname));
    if opts.include_output {
        obj.insert("output".into(), json!(text_line(f, opts)));
    }
    obj.insert("priority".into(), json!(f.priority.name()));
    obj.insert("rule".into(), json!(f.rule));
    obj.insert("source".into(), json!(f.source));
    if opts.include_tags {
        obj.insert("tags".into(), json!(f.tags));
    }
    obj.insert("time".into(), json!(f.rfc3339_time()));
    if opts.include_output_fields {
        let mut fields = Map::new();
        let time_field = if opts.iso8601 {
            "evt.time.iso8601"
        } else {
            "evt.time"
        };
        fields.insert(time_field.into(), json!(f.time_ns));
        for (k, v) in &f.output_fields {
            fields.insert(k.clone(), v.clone());
        }
        obj.insert("output_fields".into(), Value::Object(fields));
    }
    Value::Object(obj)
}
