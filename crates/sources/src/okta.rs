//! Okta System Log events (source `okta`), one JSON event per line. Event time is `published`.
//!
//! `okta.mfa.failure.countlast[N]` and `okta.mfa.deny.countlast[N]` count the actor's MFA failures
//! and push denies in the last N seconds, from per-stream state ([`MfaWindows`]) the reader keeps.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, OnceLock};

use serde_json::Value as Json;
use tripline_event::{ArgSpec, FieldArg, FieldDef, FieldType, Value};

use crate::json_event::{CustomFn, JsonEvent, JsonSource, Style};

/// Source name.
pub const NAME: &str = "okta";

/// This source for the rest of Tripline (see [`Descriptor`](crate::Descriptor)).
pub const DESCRIPTOR: crate::Descriptor = crate::Descriptor {
    name: NAME,
    source,
    detect,
    sigma: (None, Some("okta"), Some("okta")),
    rules: &[(
        "okta_rules.yaml",
        include_str!("../../../data/falco/rules/okta_rules.yaml"),
    )],
};

/// Whether an input's first bytes look like this source.
fn detect(head: &[u8]) -> bool {
    use crate::descriptor::has;
    has(head, "\"eventType\"") && has(head, "\"actor\"")
}

const FIELDS_TSV: &str = "name\ttype\tlist\targ\tjson_path\tdescription
okta.app\tstring\tno\t\t$.debugContext.debugData.appname\tApplication.
okta.evt.type\tstring\tno\t\t$.eventType\tEvent type.
okta.evt.legacytype\tstring\tno\t\t$.legacyEventType\tLegacy event type.
okta.severity\tstring\tno\t\t$.severity\tSeverity.
okta.message\tstring\tno\t\t$.displayMessage\tMessage.
okta.actor.id\tstring\tno\t\t$.actor.id\tActor id.
okta.actor.alternateid\tstring\tno\t\t$.actor.alternateId\tActor alternate id.
okta.actor.name\tstring\tno\t\t$.actor.displayName\tActor name.
okta.client.ip\tstring\tno\t\t$.client.ipAddress\tClient IP.
okta.client.zone\tstring\tno\t\t$.client.zone\tClient zone.
okta.client.device\tstring\tno\t\t$.client.device\tClient device.
okta.client.geo.city\tstring\tno\t\t$.client.geographicalContext.city\tClient city.
okta.client.geo.state\tstring\tno\t\t$.client.geographicalContext.state\tClient state.
okta.client.geo.country\tstring\tno\t\t$.client.geographicalContext.country\tClient country.
okta.client.geo.postalcode\tstring\tno\t\t$.client.geographicalContext.postalCode\tClient postal code.
okta.useragent.os\tstring\tno\t\t$.client.userAgent.os\tUser agent OS.
okta.useragent.browser\tstring\tno\t\t$.client.userAgent.browser\tUser agent browser.
okta.useragent.raw\tstring\tno\t\t$.client.userAgent.rawUserAgent\tRaw user agent.
okta.result\tstring\tno\t\t$.outcome.result\tOutcome.
okta.reason\tstring\tno\t\t$.outcome.reason\tOutcome reason.
okta.transaction.id\tstring\tno\t\t$.transaction.id\tTransaction id.
okta.transaction.type\tstring\tno\t\t$.transaction.type\tTransaction type.
okta.target.user.id\tstring\tno\t\t\tTarget user id.
okta.target.user.alternateid\tstring\tno\t\t\tTarget user alternate id.
okta.target.user.name\tstring\tno\t\t\tTarget user name.
okta.target.group.id\tstring\tno\t\t\tTarget group id.
okta.target.group.alternateid\tstring\tno\t\t\tTarget group alternate id.
okta.target.group.name\tstring\tno\t\t\tTarget group name.
okta.target.app.id\tstring\tno\t\t\tTarget app id.
okta.target.app.alternateid\tstring\tno\t\t\tTarget app alternate id.
okta.target.app.name\tstring\tno\t\t\tTarget app name.
";

fn target<'a>(e: &'a JsonEvent, kind: &str, key: &str) -> Option<Value<'a>> {
    e.json
        .get("target")?
        .as_array()?
        .iter()
        .find(|t| t.get("type").and_then(Json::as_str) == Some(kind))?
        .get(key)?
        .as_str()
        .map(Value::from)
}

macro_rules! targets {
    ($($field:literal => $kind:literal, $key:literal;)*) => {
        const CUSTOM: &[(&str, CustomFn)] = &[
            $(($field, |e, _| target(e, $kind, $key)),)*
        ];
    };
}

targets! {
    "okta.target.user.id" => "User", "id";
    "okta.target.user.alternateid" => "User", "alternateId";
    "okta.target.user.name" => "User", "displayName";
    "okta.target.group.id" => "UserGroup", "id";
    "okta.target.group.alternateid" => "UserGroup", "alternateId";
    "okta.target.group.name" => "UserGroup", "displayName";
    "okta.target.app.id" => "AppInstance", "id";
    "okta.target.app.alternateid" => "AppInstance", "alternateId";
    "okta.target.app.name" => "AppInstance", "displayName";
}

fn window_field(name: &str, desc: &str) -> FieldDef {
    let mut d = FieldDef::new(name, FieldType::Unsigned, desc);
    d.arg = ArgSpec::RequiredIndex;
    d
}

/// `okta.mfa.<kind>.countlast[N]`: the actor's `kind` events in the last N seconds, on events of
/// that kind. The upstream plugin keys its cache by the *current* event's type, so on a deny
/// event `failure.countlast` returns the deny count (and vice versa); we do what the fields are
/// documented to do and give each field a value only on its own kind of event.
fn count_last<'a>(e: &'a JsonEvent, arg: &FieldArg, kind: &str) -> Option<Value<'a>> {
    let (label, times) = e.window.as_ref()?;
    if *label != kind {
        return None;
    }
    let secs: u64 = match arg {
        FieldArg::Index(i) => *i as u64,
        FieldArg::Key(k) => k.parse().ok()?,
        FieldArg::None => return None,
    };
    let oldest = e.time_ns.saturating_sub(secs.saturating_mul(1_000_000_000));
    Some(Value::Unsigned(
        times.iter().filter(|&&t| t > oldest).count() as u64,
    ))
}

fn failure_count<'a>(e: &'a JsonEvent, arg: &FieldArg) -> Option<Value<'a>> {
    count_last(e, arg, "failure")
}

fn deny_count<'a>(e: &'a JsonEvent, arg: &FieldArg) -> Option<Value<'a>> {
    count_last(e, arg, "deny")
}

/// How long MFA events are remembered, and how many per actor (the plugin's defaults).
const MFA_TTL_NS: u64 = 600 * 1_000_000_000;
const MFA_PER_ACTOR: usize = 200;
const MFA_MAX_ACTORS: usize = 100_000;

/// Per-stream memory of MFA failures and push denies by actor, for `countlast`.
#[derive(Debug, Default)]
pub struct MfaWindows {
    times: HashMap<(&'static str, String), VecDeque<u64>>,
    /// Actors forgotten early because more than [`MFA_MAX_ACTORS`] were active.
    pub evicted: u64,
}

impl MfaWindows {
    /// Records `json` if it is an MFA failure or deny; returns the label and the actor's recent
    /// times for the event to carry.
    pub fn observe(&mut self, json: &Json, time_ns: u64) -> Option<(&'static str, Arc<[u64]>)> {
        let ty = json.get("eventType").and_then(Json::as_str)?;
        let result = json.pointer("/outcome/result").and_then(Json::as_str);
        let label = match (ty, result) {
            ("user.mfa.okta_verify.deny_push", _) => "deny",
            ("user.authentication.auth_via_mfa", Some("FAILURE")) => "failure",
            _ => return None,
        };
        let actor = json
            .pointer("/actor/id")
            .and_then(Json::as_str)
            .unwrap_or("");
        let key = (label, actor.to_string());
        if !self.times.contains_key(&key) && self.times.len() >= MFA_MAX_ACTORS {
            let before = self.times.len();
            self.times
                .retain(|_, q| q.back().is_some_and(|&t| t + MFA_TTL_NS > time_ns));
            self.evicted += (before - self.times.len()) as u64;
            if self.times.len() >= MFA_MAX_ACTORS {
                self.times.clear();
                self.evicted += before as u64;
            }
        }
        let q = self.times.entry(key).or_default();
        // The cache entry expires 600 s after its last update, as in the plugin.
        if q.back().is_some_and(|&t| t + MFA_TTL_NS <= time_ns) {
            q.clear();
        }
        q.push_back(time_ns);
        if q.len() > MFA_PER_ACTOR {
            q.pop_front();
        }
        Some((label, q.iter().copied().collect()))
    }
}

/// The `okta` source definition.
pub fn source() -> &'static JsonSource {
    static SOURCE: OnceLock<JsonSource> = OnceLock::new();
    SOURCE.get_or_init(|| {
        let extra: Vec<(FieldDef, CustomFn)> = vec![
            (
                window_field(
                    "okta.mfa.failure.countlast",
                    "MFA failures by the actor in the last N seconds.",
                ),
                failure_count,
            ),
            (
                window_field(
                    "okta.mfa.deny.countlast",
                    "MFA push denies by the actor in the last N seconds.",
                ),
                deny_count,
            ),
        ];
        JsonSource::build(NAME, "okta", FIELDS_TSV, Style::JsonText, CUSTOM, extra)
            .with_plugin("okta", "0.11.0")
    })
}
