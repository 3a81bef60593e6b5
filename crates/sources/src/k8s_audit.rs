//! Kubernetes audit events (source `k8s_audit`), with the k8saudit plugin's `ka.*` fields.
//!
//! Input is JSON: one audit `Event`, an `EventList` (what the API server's audit webhook POSTs)
//! or an array of those, per line or pretty-printed. Event time is `stageTimestamp`.

use std::sync::OnceLock;

use serde_json::Value as Json;
use tripline_event::{FieldArg, Value};

use crate::json_event::{parse_time, CustomFn, JsonEvent, JsonSource, Style};
use crate::json_path::{get, image_repository, text};

/// Source name.
pub const NAME: &str = "k8s_audit";

/// This source for the rest of Tripline (see [`Descriptor`](crate::Descriptor)).
pub const DESCRIPTOR: crate::Descriptor = crate::Descriptor {
    name: NAME,
    source,
    detect,
    sigma: (Some("application"), Some("kubernetes"), Some("audit")),
    rules: &[(
        "k8s_audit_rules.yaml",
        include_str!("../../../data/falco/rules/k8s_audit_rules.yaml"),
    )],
};

/// Whether an input's first bytes look like this source.
fn detect(head: &[u8]) -> bool {
    use crate::descriptor::has;
    has(head, "\"auditID\"") || has(head, "\"audit.k8s.io")
}

const FIELDS_TSV: &str = include_str!("../../../data/falco/fields/k8saudit.tsv");

/// The `k8s_audit` source definition.
pub fn source() -> &'static JsonSource {
    static SOURCE: OnceLock<JsonSource> = OnceLock::new();
    SOURCE.get_or_init(|| {
        JsonSource::build(
            NAME,
            "k8saudit",
            FIELDS_TSV,
            Style::JsonText,
            CUSTOM,
            Vec::new(),
        )
        .with_gate("ka.", "auditID")
        .with_plugin("k8saudit", "0.18.0")
        .with_plugin("k8saudit-eks", "0.12.0")
        .with_plugin("k8saudit-gke", "0.9.0")
        .with_plugin("k8saudit-aks", "0.6.0")
        .with_plugin("k8saudit-ovh", "0.6.0")
        .with_plugin("json", "0.7.4")
    })
}

/// Why a JSON value was not turned into events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejected {
    /// Not an audit `Event`, `EventList` or array of them.
    NotAuditEvent,
    /// An event without a readable `stageTimestamp`.
    NoTimestamp,
}

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Rejected::NotAuditEvent => "data not recognized as a k8s audit event",
            Rejected::NoTimestamp => "can't read stageTimestamp (or requestReceivedTimestamp)",
        })
    }
}

/// Splits one JSON value into audit events `(record, time_ns)`; rejected parts are reported.
pub fn split(value: Json, out: &mut Vec<Result<(Json, u64), Rejected>>) {
    match value {
        Json::Array(items) => items.into_iter().for_each(|i| split(i, out)),
        Json::Object(mut map) => match map.get("kind").and_then(Json::as_str) {
            Some("EventList") => match map.remove("items") {
                Some(Json::Array(items)) => items.into_iter().for_each(|i| split(i, out)),
                _ => out.push(Err(Rejected::NotAuditEvent)),
            },
            Some("Event") => {
                // audit.k8s.io/v1beta1-era logs carry only `timestamp`.
                let time = ["stageTimestamp", "requestReceivedTimestamp", "timestamp"]
                    .iter()
                    .find_map(|k| map.get(*k).and_then(Json::as_str).and_then(parse_time));
                out.push(match time {
                    Some(t) => Ok((Json::Object(map), t)),
                    None => Err(Rejected::NoTimestamp),
                });
            }
            _ => out.push(Err(Rejected::NotAuditEvent)),
        },
        _ => out.push(Err(Rejected::NotAuditEvent)),
    }
}

fn req<'a>(e: &'a JsonEvent, keys: &[&str]) -> Option<&'a Json> {
    get(&e.json, &["requestObject"]).and_then(|r| get(r, keys))
}

fn list(values: Vec<Value<'_>>) -> Option<Value<'_>> {
    (!values.is_empty()).then_some(Value::List(values))
}

fn index_of(arg: &FieldArg) -> Option<usize> {
    match arg {
        FieldArg::Index(i) => Some(*i),
        _ => None,
    }
}

/// Containers of one kind, honouring an optional index argument.
fn containers<'a>(e: &'a JsonEvent, kind: &str, arg: &FieldArg) -> Vec<&'a Json> {
    let Some(Json::Array(items)) = req(e, &["spec", kind]) else {
        return Vec::new();
    };
    match index_of(arg) {
        Some(i) => items.get(i).into_iter().collect(),
        None => items.iter().collect(),
    }
}

fn image_repos<'a>(e: &'a JsonEvent, kind: &str, arg: &FieldArg) -> Option<Value<'a>> {
    let mut out = Vec::new();
    for c in containers(e, kind, arg) {
        let image = c.get("image")?.as_str()?;
        out.push(Value::from(image_repository(image)));
    }
    list(out)
}

fn joined<'a>(e: &'a JsonEvent, kind: &str, key: &str, arg: &FieldArg) -> Option<Value<'a>> {
    let out = containers(e, kind, arg)
        .into_iter()
        .filter_map(|c| c.get(key)?.as_array())
        .map(|parts| {
            Value::from(
                parts
                    .iter()
                    .map(|p| text(p).into_owned())
                    .collect::<Vec<_>>()
                    .join(" "),
            )
        })
        .collect();
    list(out)
}

fn host_ports<'a>(e: &'a JsonEvent, kind: &str, arg: &FieldArg) -> Option<Value<'a>> {
    let mut out = Vec::new();
    for c in containers(e, kind, arg) {
        for p in c
            .get("ports")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(v) = p.get("hostPort").or_else(|| p.get("containerPort")) {
                out.push(Value::Str(text(v)));
            }
        }
    }
    list(out)
}

fn effective<'a>(e: &'a JsonEvent, kind: &str, key: &str, arg: &FieldArg) -> Option<Value<'a>> {
    let pod = req(e, &["spec", "securityContext", key]);
    let out = containers(e, kind, arg)
        .into_iter()
        .map(|c| match get(c, &["securityContext", key]).or(pod) {
            Some(v) => Value::Str(text(v)),
            None => Value::from("0"),
        })
        .collect();
    list(out)
}

macro_rules! per_kind {
    ($kind:literal, $repo:ident, $cmd:ident, $args:ident, $ports:ident, $uid:ident, $gid:ident) => {
        fn $repo<'a>(e: &'a JsonEvent, a: &FieldArg) -> Option<Value<'a>> {
            image_repos(e, $kind, a)
        }
        fn $cmd<'a>(e: &'a JsonEvent, a: &FieldArg) -> Option<Value<'a>> {
            joined(e, $kind, "command", a)
        }
        fn $args<'a>(e: &'a JsonEvent, a: &FieldArg) -> Option<Value<'a>> {
            joined(e, $kind, "args", a)
        }
        fn $ports<'a>(e: &'a JsonEvent, a: &FieldArg) -> Option<Value<'a>> {
            host_ports(e, $kind, a)
        }
        fn $uid<'a>(e: &'a JsonEvent, a: &FieldArg) -> Option<Value<'a>> {
            effective(e, $kind, "runAsUser", a)
        }
        fn $gid<'a>(e: &'a JsonEvent, a: &FieldArg) -> Option<Value<'a>> {
            effective(e, $kind, "runAsGroup", a)
        }
    };
}

per_kind!("containers", c_repo, c_cmd, c_args, c_ports, c_uid, c_gid);
per_kind!(
    "initContainers",
    i_repo,
    i_cmd,
    i_args,
    i_ports,
    i_uid,
    i_gid
);
per_kind!(
    "ephemeralContainers",
    x_repo,
    x_cmd,
    x_args,
    x_ports,
    x_uid,
    x_gid
);

fn subjects_of<'a>(e: &'a JsonEvent, kind: &str, with_ns: bool) -> Option<Value<'a>> {
    let subjects = req(e, &["subjects"])?.as_array()?;
    let out = subjects
        .iter()
        .filter(|s| s.get("kind").and_then(Json::as_str) == Some(kind))
        .filter_map(|s| {
            let name = s.get("name").map(text)?;
            Some(if with_ns {
                let ns = s.get("namespace").map(text).unwrap_or_default();
                Value::from(format!("{ns}:{name}"))
            } else {
                Value::Str(name)
            })
        })
        .collect();
    list(out)
}

const CUSTOM: &[(&str, CustomFn)] = &[
    ("ka.uri.param", |e, arg| {
        let FieldArg::Key(key) = arg else { return None };
        let uri = e.json.get("requestURI")?.as_str()?;
        let query = uri.split_once('?')?.1;
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == key)
            .map(|(_, v)| Value::from(v.into_owned()))
    }),
    ("ka.target.pod.name", |e, _| {
        let obj = e.json.get("objectRef")?;
        if obj.get("resource")?.as_str()? != "pods" || obj.get("subresource").is_some() {
            return None;
        }
        get(&e.json, &["responseObject", "metadata", "name"]).map(|v| Value::Str(text(v)))
    }),
    ("ka.req.binding.subjects.user_names", |e, _| {
        subjects_of(e, "User", false)
    }),
    ("ka.req.binding.subjects.serviceaccount_names", |e, _| {
        subjects_of(e, "ServiceAccount", false)
    }),
    ("ka.req.binding.subjects.serviceaccount_ns_names", |e, _| {
        subjects_of(e, "ServiceAccount", true)
    }),
    ("ka.req.binding.subjects.group_names", |e, _| {
        subjects_of(e, "Group", false)
    }),
    // Upstream quirk kept: the plugin always answers true.
    ("ka.req.binding.subject.has_name", |_, _| {
        Some(Value::from("true"))
    }),
    ("ka.req.container.image", |e, _| {
        req(e, &["spec", "containers"])?
            .get(0)?
            .get("image")
            .map(|v| Value::Str(text(v)))
    }),
    ("ka.req.container.image.repository", |e, _| {
        let image = req(e, &["spec", "containers"])?
            .get(0)?
            .get("image")?
            .as_str()?;
        Some(Value::from(image_repository(image)))
    }),
    ("ka.req.pod.containers.image.repository", c_repo),
    ("ka.req.pod.initContainers.image.repository", i_repo),
    ("ka.req.pod.ephemeralContainers.image.repository", x_repo),
    ("ka.req.pod.containers.command", c_cmd),
    ("ka.req.pod.initContainers.command", i_cmd),
    ("ka.req.pod.ephemeralContainers.command", x_cmd),
    ("ka.req.pod.containers.args", c_args),
    ("ka.req.pod.initContainers.args", i_args),
    ("ka.req.pod.ephemeralContainers.args", x_args),
    ("ka.req.pod.containers.host_port", c_ports),
    ("ka.req.pod.initContainers.host_port", i_ports),
    ("ka.req.pod.ephemeralContainers.host_port", x_ports),
    ("ka.req.pod.containers.eff_run_as_user", c_uid),
    ("ka.req.pod.initContainers.eff_run_as_user", i_uid),
    ("ka.req.pod.ephemeralContainers.eff_run_as_user", x_uid),
    ("ka.req.pod.containers.eff_run_as_group", c_gid),
    ("ka.req.pod.initContainers.eff_run_as_group", i_gid),
    ("ka.req.pod.ephemeralContainers.eff_run_as_group", x_gid),
    ("ka.req.container.privileged", |e, _| {
        let flags: Vec<bool> = req(e, &["spec", "containers"])?
            .as_array()?
            .iter()
            .filter_map(|c| get(c, &["securityContext", "privileged"])?.as_bool())
            .collect();
        (!flags.is_empty()).then(|| {
            Value::from(if flags.contains(&true) {
                "true"
            } else {
                "false"
            })
        })
    }),
    ("ka.req.service.ports", |e, _| {
        req(e, &["spec", "ports"]).map(|v| Value::List(vec![Value::from(v.to_string())]))
    }),
    ("ka.req.volume.hostpath", |e, arg| {
        let FieldArg::Key(want) = arg else {
            return None;
        };
        let volumes = req(e, &["spec", "volumes"])?.as_array()?;
        let hit = volumes
            .iter()
            .filter_map(|v| get(v, &["hostPath", "path"])?.as_str())
            .any(|p| match want.strip_suffix('*') {
                Some(prefix) => p.starts_with(prefix),
                None => p == want,
            });
        Some(Value::from(if hit { "true" } else { "false" }))
    }),
    ("ka.req.pod.volumes.volume_type", |e, arg| {
        let volumes = req(e, &["spec", "volumes"])?.as_array()?;
        let picked: Vec<&Json> = match index_of(arg) {
            Some(i) => volumes.get(i).into_iter().collect(),
            None => volumes.iter().collect(),
        };
        let out = picked
            .into_iter()
            .filter_map(Json::as_object)
            .flat_map(|o| {
                o.keys()
                    .filter(|k| *k != "name")
                    .map(|k| Value::from(k.as_str()))
            })
            .collect();
        list(out)
    }),
];

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tripline_event::Event;

    fn ev(v: Json) -> JsonEvent {
        JsonEvent::new(source(), v, 1, 1)
    }

    fn read(e: &JsonEvent, name: &str, arg: FieldArg) -> Option<String> {
        let f = source().schema.fields.bind(name, arg).unwrap();
        e.extract(&f).map(|v| v.to_text().into_owned())
    }

    #[test]
    fn every_table_field_has_an_extractor() {
        // Building panics otherwise.
        assert!(source().schema.fields.get("ka.verb").is_some());
        assert!(source().schema.fields.get("jevt.value").is_some());
    }

    #[test]
    fn fields_follow_plugin_semantics() {
        let e = ev(json!({
            "auditID": "x", "verb": "create", "requestURI": "/api/v1/x/exec?command=sh&container=c",
            "annotations": {"authorization.k8s.io/decision": "allow"},
            "requestObject": {"spec": {"hostNetwork": true, "containers": [
                {"image": "nginx:1.2", "securityContext": {"privileged": true}},
                {"image": "registry:5000/app@sha256:1"}
            ], "volumes": [{"name": "v", "hostPath": {"path": "/var/run/docker.sock"}}]}},
            "responseStatus": {"code": 201}
        }));
        assert_eq!(
            read(&e, "ka.verb", FieldArg::None).as_deref(),
            Some("create")
        );
        assert_eq!(
            read(&e, "ka.auth.decision", FieldArg::None).as_deref(),
            Some("allow")
        );
        assert_eq!(
            read(&e, "ka.uri.param", FieldArg::Key("command".into())).as_deref(),
            Some("sh")
        );
        assert_eq!(
            read(&e, "ka.req.pod.host_network", FieldArg::None).as_deref(),
            Some("true")
        );
        assert_eq!(
            read(&e, "ka.response.code", FieldArg::None).as_deref(),
            Some("201")
        );
        assert_eq!(
            read(&e, "ka.req.pod.containers.image.repository", FieldArg::None).as_deref(),
            Some("(nginx,registry:5000/app)")
        );
        assert_eq!(
            read(&e, "ka.req.pod.containers.image", FieldArg::Key("1".into())).as_deref(),
            Some("(registry:5000/app@sha256:1)")
        );
        assert_eq!(
            read(&e, "ka.req.pod.containers.privileged", FieldArg::None).as_deref(),
            Some("(true)")
        );
        assert_eq!(
            read(
                &e,
                "ka.req.volume.hostpath",
                FieldArg::Key("/var/run/docker.sock".into())
            )
            .as_deref(),
            Some("true")
        );
        assert_eq!(read(&e, "ka.target.subresource", FieldArg::None), None);
        assert_eq!(
            read(
                &e,
                "jevt.value",
                FieldArg::Key("/requestObject/spec/hostNetwork".into())
            )
            .as_deref(),
            Some("true")
        );
        // The auditID gate: without it, ka.* fields are absent.
        let bare = ev(json!({"verb": "get"}));
        assert_eq!(read(&bare, "ka.verb", FieldArg::None), None);
    }

    #[test]
    fn splits_lists_and_rejects_other_data() {
        let mut out = Vec::new();
        split(
            json!({"kind": "EventList", "items": [
                {"kind": "Event", "stageTimestamp": "2019-01-01T00:00:00.000001Z"},
                {"kind": "Event"}
            ]}),
            &mut out,
        );
        split(json!({"foo": 1}), &mut out);
        assert_eq!(out[0].as_ref().unwrap().1, 1_546_300_800_000_001_000);
        assert_eq!(out[1], Err(Rejected::NoTimestamp));
        assert_eq!(out[2], Err(Rejected::NotAuditEvent));
    }
}
