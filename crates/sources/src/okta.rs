//! Okta System Log events (source `okta`), one JSON event per line. Event time is `published`.
//!
//! Not yet implemented: `okta.mfa.failure.countlast[N]` and `okta.mfa.deny.countlast[N]`, which
//! the plugin computes from a sliding window per actor; they are known fields (rules load) but
//! have no value yet.

use std::sync::OnceLock;

use serde_json::Value as Json;
use tripline_event::{ArgSpec, FieldArg, FieldDef, FieldType, Value};

use crate::json_event::{CustomFn, JsonEvent, JsonSource, Style};

/// Source name.
pub const NAME: &str = "okta";

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

fn not_yet<'a>(_: &'a JsonEvent, _: &FieldArg) -> Option<Value<'a>> {
    None
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
                not_yet,
            ),
            (
                window_field(
                    "okta.mfa.deny.countlast",
                    "MFA push denies by the actor in the last N seconds.",
                ),
                not_yet,
            ),
        ];
        JsonSource::build(NAME, "okta", FIELDS_TSV, Style::JsonText, CUSTOM, extra)
            .with_plugin("okta", "0.11.0")
    })
}
