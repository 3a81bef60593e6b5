//! AWS CloudTrail records (source `aws_cloudtrail`), with the cloudtrail plugin's `ct.*`,
//! `s3.*`, `ec2.*`, `ecr.*` and `iam.*` fields.
//!
//! Input: CloudTrail log files (`{"Records":[...]}`, plain or gzip, or a directory tree as
//! CloudTrail writes it to S3), or JSON lines with one record per line. Event time is
//! `eventTime`; records without `eventTime`/`eventType` and Insight records are skipped.

use std::sync::OnceLock;

use serde_json::Value as Json;
use tripline_event::Value;

use crate::json_event::{parse_time, CustomFn, JsonEvent, JsonSource, Style};
use crate::json_path::get;

/// Source name.
pub const NAME: &str = "aws_cloudtrail";

/// This source for the rest of Tripline (see [`Descriptor`](crate::Descriptor)).
pub const DESCRIPTOR: crate::Descriptor = crate::Descriptor {
    name: NAME,
    source,
    detect,
    sigma: (None, Some("aws"), Some("cloudtrail")),
    rules: &[(
        "aws_cloudtrail_rules.yaml",
        include_str!("../../../data/falco/rules/aws_cloudtrail_rules.yaml"),
    )],
};

/// Whether an input's first bytes look like this source.
fn detect(head: &[u8]) -> bool {
    use crate::descriptor::has;
    has(head, "\"Records\"")
        || has(head, "\"eventVersion\"")
        || (has(head, "\"eventSource\"") && has(head, "\"awsRegion\""))
}

const FIELDS_TSV: &str = include_str!("../../../data/falco/fields/cloudtrail.tsv");

/// The `aws_cloudtrail` source definition.
pub fn source() -> &'static JsonSource {
    static SOURCE: OnceLock<JsonSource> = OnceLock::new();
    SOURCE.get_or_init(|| {
        JsonSource::build(
            NAME,
            "cloudtrail",
            FIELDS_TSV,
            Style::EmptyIfNotString,
            CUSTOM,
            Vec::new(),
        )
        .with_plugin("cloudtrail", "0.17.1")
        .with_plugin("json", "0.7.4")
    })
}

/// Why a record was skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejected {
    /// No string `eventTime` in RFC 3339.
    NoEventTime,
    /// No string `eventType`.
    NoEventType,
    /// `eventType: AwsCloudTrailInsight`.
    Insight,
    /// Not a JSON object.
    NotRecord,
}

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Rejected::NoEventTime => "record has no valid eventTime",
            Rejected::NoEventType => "record has no eventType",
            Rejected::Insight => "CloudTrail Insight record skipped",
            Rejected::NotRecord => "data not recognized as a CloudTrail record",
        })
    }
}

/// Checks one record and returns its time.
pub fn accept(record: &Json) -> Result<u64, Rejected> {
    if !record.is_object() {
        return Err(Rejected::NotRecord);
    }
    let time = record
        .get("eventTime")
        .and_then(Json::as_str)
        .and_then(parse_time)
        .ok_or(Rejected::NoEventTime)?;
    match record.get("eventType").and_then(Json::as_str) {
        None => Err(Rejected::NoEventType),
        Some("AwsCloudTrailInsight") => Err(Rejected::Insight),
        Some(_) => Ok(time),
    }
}

fn s<'a>(e: &'a JsonEvent, keys: &[&str]) -> Option<&'a str> {
    get(&e.json, keys).and_then(Json::as_str)
}

fn json_text<'a>(e: &'a JsonEvent, key: &str) -> Option<Value<'a>> {
    e.json.get(key).map(|v| match v {
        Json::String(s) => Value::from(s.as_str()),
        other => Value::from(other.to_string()),
    })
}

fn user(e: &JsonEvent) -> Option<&str> {
    let id = e.json.get("userIdentity")?;
    let field = |k: &[&str]| get(id, k).and_then(Json::as_str);
    match field(&["type"])? {
        "AWSService" => field(&["invokedBy"]),
        "AssumedRole" => field(&["sessionContext", "sessionIssuer", "userName"]),
        "Root" => field(&["userName"]).or(Some("root")),
        _ => field(&["userName"]),
    }
}

fn number(v: Option<&Json>) -> Option<u64> {
    let v = v?;
    v.as_u64().or_else(|| v.as_f64().map(|f| f as u64))
}

fn image_ids(e: &JsonEvent) -> Vec<&str> {
    let from_response: Vec<&str> = get(&e.json, &["responseElements", "instancesSet", "items"])
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .filter_map(|i| i.get("imageId")?.as_str())
        .collect();
    if !from_response.is_empty() {
        return from_response;
    }
    [
        s(e, &["requestParameters", "imageId"]),
        s(
            e,
            &[
                "requestParameters",
                "DescribeFastLaunchImagesRequest",
                "ImageId",
                "content",
            ],
        ),
        s(e, &["requestParameters", "launchSpecification", "imageId"]),
    ]
    .into_iter()
    .flatten()
    .take(1)
    .collect()
}

const CUSTOM: &[(&str, CustomFn)] = &[
    ("ct.shortsrc", |e, _| {
        let src = s(e, &["eventSource"])?;
        Some(Value::from(
            src.strip_suffix(".amazonaws.com").unwrap_or(src),
        ))
    }),
    ("ct.user", |e, _| Some(Value::from(user(e).unwrap_or("")))),
    ("ct.originaluser", |e, _| {
        let id = e.json.get("userIdentity")?;
        ["arn", "principalId", "userName"]
            .iter()
            .find_map(|k| id.get(*k)?.as_str())
            .map(Value::from)
    }),
    ("ct.user.accountid", |e, _| {
        s(e, &["userIdentity", "accountId"])
            .or_else(|| s(e, &["recipientAccountId"]))
            .map(Value::from)
    }),
    ("ct.response", |e, _| json_text(e, "responseElements")),
    ("ct.request", |e, _| json_text(e, "requestParameters")),
    ("ct.additionaleventdata", |e, _| {
        json_text(e, "additionalEventData")
    }),
    // Upstream bug: the plugin never yields this field; we read the documented path.
    ("ct.request.documentname", |e, _| {
        s(e, &["requestParameters", "documentName"]).map(Value::from)
    }),
    ("ct.resources", |e, _| {
        let items = e.json.get("resources")?.as_array()?;
        Some(Value::from(
            items
                .iter()
                .map(Json::to_string)
                .collect::<Vec<_>>()
                .join(","),
        ))
    }),
    ("ct.info", |e, _| {
        let mut info = format!(
            "{} via {}",
            user(e).unwrap_or(""),
            s(e, &["sourceIPAddress"]).unwrap_or("")
        );
        if let Some(err) = s(e, &["errorCode"]) {
            info.push_str(&format!(" Error: {err}"));
        }
        let rw = if e.json.get("readOnly").and_then(Json::as_bool) == Some(true) {
            "R"
        } else {
            "W"
        };
        info.push_str(&format!(" {rw} {}", s(e, &["eventName"]).unwrap_or("")));
        if let Some(bucket) = s(e, &["requestParameters", "bucketName"]) {
            info.push_str(&format!(
                " s3://{bucket}/{}",
                s(e, &["requestParameters", "key"]).unwrap_or("")
            ));
        }
        Some(Value::from(info))
    }),
    ("s3.uri", |e, _| {
        let bucket = s(e, &["requestParameters", "bucketName"])?;
        let key = s(e, &["requestParameters", "key"]).unwrap_or("");
        Some(Value::from(format!("s3://{bucket}/{key}")))
    }),
    ("s3.bytes", |e, _| {
        let a = e.json.get("additionalEventData")?;
        let (i, o) = (
            number(a.get("bytesTransferredIn")),
            number(a.get("bytesTransferredOut")),
        );
        (i.is_some() || o.is_some()).then(|| Value::Unsigned(i.unwrap_or(0) + o.unwrap_or(0)))
    }),
    ("s3.cnt.get", |e, _| {
        Some(Value::Unsigned(
            (s(e, &["eventName"]) == Some("GetObject")) as u64,
        ))
    }),
    ("s3.cnt.put", |e, _| {
        Some(Value::Unsigned(
            (s(e, &["eventName"]) == Some("PutObject")) as u64,
        ))
    }),
    ("s3.cnt.other", |e, _| {
        let n = s(e, &["eventName"]);
        Some(Value::Unsigned(
            (n != Some("GetObject") && n != Some("PutObject")) as u64,
        ))
    }),
    ("ec2.name", |e, _| {
        let items = get(
            &e.json,
            &["requestParameters", "tagSpecificationSet", "items"],
        )?
        .as_array()?;
        items
            .iter()
            .filter(|i| i.get("resourceType").and_then(Json::as_str) == Some("instance"))
            .flat_map(|i| i.get("tags").and_then(Json::as_array).into_iter().flatten())
            .find(|t| t.get("key").and_then(Json::as_str) == Some("Name"))
            .and_then(|t| t.get("value")?.as_str())
            .map(Value::from)
    }),
    ("ec2.imageid", |e, _| {
        image_ids(e).first().map(|id| Value::from(*id))
    }),
    ("ec2.imageids", |e, _| {
        let ids: Vec<Value> = image_ids(e).into_iter().map(Value::from).collect();
        (!ids.is_empty()).then_some(Value::List(ids))
    }),
];

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tripline_event::{Event, FieldArg};

    fn read(e: &JsonEvent, name: &str) -> Option<String> {
        let f = source().schema.fields.bind(name, FieldArg::None).unwrap();
        e.extract(&f).map(|v| v.to_text().into_owned())
    }

    #[test]
    fn fields_follow_plugin_semantics() {
        let rec = json!({
            "eventTime": "2021-01-01T00:00:00Z", "eventType": "AwsApiCall",
            "eventSource": "s3.amazonaws.com", "eventName": "GetObject",
            "userIdentity": {"type": "AssumedRole", "sessionContext": {"sessionIssuer": {"userName": "deployer"}}},
            "requestParameters": {"bucketName": "b", "key": "k", "policy": {"x": 1}},
            "additionalEventData": {"bytesTransferredIn": 10.0, "bytesTransferredOut": 5}
        });
        let t = accept(&rec).unwrap();
        let e = JsonEvent::new(source(), rec, t, 1);
        assert_eq!(read(&e, "ct.user").as_deref(), Some("deployer"));
        assert_eq!(read(&e, "ct.shortsrc").as_deref(), Some("s3"));
        assert_eq!(read(&e, "s3.uri").as_deref(), Some("s3://b/k"));
        assert_eq!(read(&e, "s3.bytes").as_deref(), Some("15"));
        // Not a string: present but empty, as the plugin does.
        assert_eq!(read(&e, "ct.request.policy").as_deref(), Some(""));
        assert_eq!(read(&e, "ct.error"), None);
        assert_eq!(
            read(&e, "ct.request").as_deref(),
            Some(r#"{"bucketName":"b","key":"k","policy":{"x":1}}"#)
        );
    }

    #[test]
    fn rejects_insights_and_untimed_records() {
        assert_eq!(
            accept(&json!({"eventType": "AwsApiCall"})),
            Err(Rejected::NoEventTime)
        );
        assert_eq!(
            accept(
                &json!({"eventTime": "2021-01-01T00:00:00Z", "eventType": "AwsCloudTrailInsight"})
            ),
            Err(Rejected::Insight)
        );
    }
}
