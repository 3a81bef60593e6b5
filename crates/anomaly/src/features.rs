//! What is learned about each entity: one [`Observation`] per event, with the categorical
//! features scoring compares against the entity's history and its peers'.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A categorical feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Feature {
    /// AWS API call (`ec2:GetPasswordData`).
    Api,
    /// AWS region.
    Region,
    /// Source network (IPv4 /24, IPv6 /48, or a service name such as `AWS Internal`).
    Network,
    /// User agent family (product names, versions and ids dropped).
    UserAgent,
    /// Resource type touched (`AWS::S3::Bucket`).
    ResourceType,
    /// Hour of the day, in 4-hour blocks (UTC).
    TimeOfDay,
    /// Kubernetes `verb resource[/subresource]`.
    K8sAction,
    /// Kubernetes namespace.
    Namespace,
    /// A program executed (live sensor).
    Executable,
    /// `parent -> child` exec pair (live sensor).
    ExecPair,
    /// A port listened on (live sensor).
    ListenPort,
    /// An outbound destination (live sensor).
    Egress,
    /// A directory written to (live sensor).
    WriteDir,
}

impl Feature {
    /// How much novelty in this feature counts (0..1).
    pub fn weight(self) -> f64 {
        match self {
            // What a workload runs, where it connects and what it listens on matter as much as
            // which API an identity calls.
            Feature::Api
            | Feature::K8sAction
            | Feature::Executable
            | Feature::ExecPair
            | Feature::Egress
            | Feature::ListenPort => 0.9,
            Feature::UserAgent => 0.7,
            Feature::Network | Feature::Region | Feature::WriteDir => 0.6,
            Feature::ResourceType | Feature::Namespace => 0.4,
            Feature::TimeOfDay => 0.3,
        }
    }

    /// Name for people.
    pub fn as_str(self) -> &'static str {
        match self {
            Feature::Api => "api",
            Feature::Region => "region",
            Feature::Network => "network",
            Feature::UserAgent => "user_agent",
            Feature::ResourceType => "resource_type",
            Feature::TimeOfDay => "time_of_day",
            Feature::K8sAction => "k8s_action",
            Feature::Namespace => "namespace",
            Feature::Executable => "executable",
            Feature::ExecPair => "exec_pair",
            Feature::ListenPort => "listen_port",
            Feature::Egress => "egress",
            Feature::WriteDir => "write_dir",
        }
    }

    /// Position in [`ALL`], for per-feature arrays.
    pub fn index(self) -> usize {
        ALL.iter().position(|f| *f == self).unwrap_or(0)
    }

    /// Parses [`Feature::as_str`].
    pub fn parse(s: &str) -> Option<Feature> {
        ALL.iter().copied().find(|f| f.as_str() == s)
    }
}

/// Every feature.
pub const ALL: [Feature; 13] = [
    Feature::Api,
    Feature::Region,
    Feature::Network,
    Feature::UserAgent,
    Feature::ResourceType,
    Feature::TimeOfDay,
    Feature::K8sAction,
    Feature::Namespace,
    Feature::Executable,
    Feature::ExecPair,
    Feature::ListenPort,
    Feature::Egress,
    Feature::WriteDir,
];

/// One event, as the baseline sees it.
///
/// ```
/// let rec = serde_json::json!({"eventTime": "2023-07-10T11:42:18Z", "eventSource": "ec2.amazonaws.com",
///     "eventName": "GetPasswordData", "awsRegion": "us-east-1", "sourceIPAddress": "203.0.113.9",
///     "userAgent": "aws-sdk-go/1.44.0 (go1.20; linux; amd64)",
///     "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::1:user/bob"}});
/// let o = tripline_anomaly::features::from_cloudtrail(&rec, 0).unwrap();
/// assert_eq!(o.entity, "arn:aws:iam::1:user/bob");
/// assert!(o.features.contains(&(tripline_anomaly::Feature::Api, "ec2:GetPasswordData".into())));
/// assert!(o.features.contains(&(tripline_anomaly::Feature::Network, "203.0.113.0/24".into())));
/// assert!(o.features.contains(&(tripline_anomaly::Feature::UserAgent, "aws-sdk-go".into())));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// The entity (ARN, Kubernetes user, workload).
    pub entity: String,
    /// Its peer group (`aws:IAMUser`, `aws:AssumedRole/ci-deploy`, `k8s:serviceaccount/ci`,
    /// `workload:container/nginx`); see [`peer_chain`].
    pub peer_group: String,
    /// Event time, ns since the epoch.
    pub time_ns: u64,
    /// Categorical features.
    pub features: Vec<(Feature, String)>,
    /// The call was refused (AccessDenied, 403).
    pub denied: bool,
    /// One line for people (`ec2:GetPasswordData from 203.0.113.9`).
    pub summary: String,
    /// The record's id (CloudTrail `eventID`, audit `auditID`).
    pub event_id: String,
}

/// The peer groups of `group`, most specific first: groups nest with `/`, so
/// `aws:AssumedRole/ci-deploy` is inside `aws:AssumedRole`.
///
/// ```
/// let chain: Vec<&str> = tripline_anomaly::features::peer_chain("workload:container/nginx").collect();
/// assert_eq!(chain, ["workload:container/nginx", "workload:container"]);
/// ```
pub fn peer_chain(group: &str) -> impl Iterator<Item = &str> {
    let mut next = Some(group);
    std::iter::from_fn(move || {
        let cur = next?;
        next = cur.rsplit_once('/').map(|(parent, _)| parent);
        Some(cur)
    })
}

/// The family of an IAM role, whose members are each other's closest peers: the first part of
/// its path (`aws-service-role`, `aws-reserved`, `service-role`, a team's own path), or else
/// the leading words of its name without the last (`ci-deploy-prod` → `ci-deploy`,
/// `stratus-red-team-ec2-role` → `stratus-red`). A one-word name is its own family.
///
/// ```
/// use tripline_anomaly::features::role_family;
/// assert_eq!(role_family("arn:aws:iam::1:role/aws-service-role/inspector2.amazonaws.com/AWSServiceRoleForAmazonInspector2"), "aws-service-role");
/// assert_eq!(role_family("arn:aws:iam::1:role/ci-deploy-prod"), "ci-deploy");
/// assert_eq!(role_family("arn:aws:iam::1:role/web_app"), "web");
/// assert_eq!(role_family("arn:aws:iam::1:role/OrganizationAccountAccessRole"), "OrganizationAccountAccessRole");
/// ```
pub fn role_family(role_arn: &str) -> String {
    let resource = role_arn.split_once(":role/").map_or(role_arn, |(_, r)| r);
    let (path, name) = resource.rsplit_once('/').unwrap_or(("", resource));
    if let Some(first) = path.split('/').find(|p| !p.is_empty()) {
        return first.to_string();
    }
    let words: Vec<&str> = name
        .split(['-', '_', '.'])
        .filter(|w| !w.is_empty())
        .collect();
    match words.len() {
        0 | 1 => name.to_string(),
        n => words[..(n - 1).min(2)].join("-"),
    }
}

/// IPv4 /24, IPv6 /48; names (`AWS Internal`, `ec2.amazonaws.com`) as they are.
pub fn network_of(ip: &str) -> String {
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(v4)) => {
            let o = v4.octets();
            format!("{}.{}.{}.0/24", o[0], o[1], o[2])
        }
        Ok(std::net::IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
        }
        Err(_) => ip.to_string(),
    }
}

/// The family of a user agent: product names without versions, ids or details, so an SDK
/// upgrade is not novel but a new tool is (`aws-sdk-go/1.44.0 (go1.20; linux)` → `aws-sdk-go`,
/// `[S3Console/0.4, aws-internal/3]` → `S3Console aws-internal`).
pub fn user_agent_family(ua: &str) -> String {
    let ua = ua.trim().trim_start_matches('[').trim_end_matches(']');
    let mut out: Vec<String> = Vec::new();
    let mut depth = 0i32;
    for token in ua.split([' ', ',']) {
        let opens = token.matches('(').count() as i32;
        let closes = token.matches(')').count() as i32;
        let inside = depth > 0 || token.starts_with('(');
        depth += opens - closes;
        if inside || token.is_empty() {
            continue;
        }
        let name = token.split('/').next().unwrap_or(token);
        // Drop ids: `tool_<uuid>` keeps `tool`, so each run of a tool is the same family.
        let mut stem = name;
        while let Some((head, tail)) = stem.rsplit_once(['_', '-']) {
            if !is_id(tail) {
                break;
            }
            stem = head;
        }
        if stem.is_empty() || stem.chars().all(|c| c.is_ascii_digit() || c == '.') {
            continue;
        }
        if !out.iter().any(|o| o == stem) && out.len() < 3 {
            out.push(stem.to_string());
        }
    }
    if out.is_empty() {
        "(none)".into()
    } else {
        out.join(" ")
    }
}

/// Hex runs with a digit (uuid parts, hashes) and long runs with several digits.
fn is_id(t: &str) -> bool {
    let digits = t.chars().filter(|c| c.is_ascii_digit()).count();
    (t.len() >= 4 && digits >= 1 && t.chars().all(|c| c.is_ascii_hexdigit()))
        || (t.len() >= 8 && digits >= 2)
}

fn hour_block(time_ns: u64) -> String {
    let hour = time_ns / 3_600_000_000_000 % 24;
    let start = hour / 4 * 4;
    format!("{start:02}-{:02}h", start + 4)
}

fn s<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for k in path {
        cur = cur.get(k)?;
    }
    cur.as_str().filter(|x| !x.is_empty())
}

/// The observation of a CloudTrail record, or `None` when no principal made it.
pub fn from_cloudtrail(r: &Value, time_ns: u64) -> Option<Observation> {
    let kind = s(r, &["userIdentity", "type"]).unwrap_or("");
    let entity = match kind {
        "AssumedRole" | "FederatedUser" => s(
            r,
            &["userIdentity", "sessionContext", "sessionIssuer", "arn"],
        )
        .or_else(|| s(r, &["userIdentity", "arn"]))?
        .to_string(),
        "IAMUser" | "Root" | "IdentityCenterUser" | "SAMLUser" | "WebIdentityUser" => {
            s(r, &["userIdentity", "arn"])
                .or_else(|| s(r, &["userIdentity", "userName"]))?
                .to_string()
        }
        _ => return None,
    };
    let source = s(r, &["eventSource"]).unwrap_or("");
    let name = s(r, &["eventName"]).unwrap_or("");
    let api = format!(
        "{}:{name}",
        source.strip_suffix(".amazonaws.com").unwrap_or(source)
    );
    let ip = s(r, &["sourceIPAddress"]).unwrap_or("");
    let ua = s(r, &["userAgent"]).unwrap_or("");
    let mut features = vec![
        (Feature::Api, api.clone()),
        (Feature::Network, network_of(ip)),
        (Feature::UserAgent, user_agent_family(ua)),
        (Feature::TimeOfDay, hour_block(time_ns)),
    ];
    if let Some(region) = s(r, &["awsRegion"]) {
        features.push((Feature::Region, region.to_string()));
    }
    for res in r
        .get("resources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(t) = res.get("type").and_then(Value::as_str) {
            let f = (Feature::ResourceType, t.to_string());
            if !features.contains(&f) {
                features.push(f);
            }
        }
    }
    let code = s(r, &["errorCode"]).unwrap_or("");
    let peer_group = if entity.contains(":role/") {
        format!("aws:{kind}/{}", role_family(&entity))
    } else {
        format!("aws:{kind}")
    };
    Some(Observation {
        entity,
        peer_group,
        time_ns,
        features,
        denied: code.contains("AccessDenied") || code.contains("UnauthorizedOperation"),
        summary: format!(
            "{api} from {ip}{}",
            if code.is_empty() {
                String::new()
            } else {
                format!(" ({code})")
            }
        ),
        event_id: s(r, &["eventID"]).unwrap_or("").to_string(),
    })
}

/// The observation of a Kubernetes audit event (at `ResponseComplete`), or `None`.
pub fn from_k8s_audit(e: &Value, time_ns: u64) -> Option<Observation> {
    if let Some(stage) = s(e, &["stage"]) {
        if stage != "ResponseComplete" && stage != "Panic" {
            return None;
        }
    }
    let user = s(e, &["impersonatedUser", "username"]).or_else(|| s(e, &["user", "username"]))?;
    let peer_group = match user.strip_prefix("system:serviceaccount:") {
        Some(rest) => format!(
            "k8s:serviceaccount/{}",
            rest.split(':').next().unwrap_or("")
        ),
        None if user.starts_with("system:") => "k8s:system".to_string(),
        None => "k8s:user".to_string(),
    };
    let verb = s(e, &["verb"]).unwrap_or("");
    let resource = s(e, &["objectRef", "resource"]).unwrap_or("");
    let sub = s(e, &["objectRef", "subresource"]);
    let action = match (resource, sub) {
        ("", _) => format!(
            "{verb} {}",
            s(e, &["requestURI"])
                .unwrap_or("")
                .split('?')
                .next()
                .unwrap_or("")
        ),
        (r, Some(sub)) => format!("{verb} {r}/{sub}"),
        (r, None) => format!("{verb} {r}"),
    };
    let mut features = vec![
        (Feature::K8sAction, action.clone()),
        (Feature::TimeOfDay, hour_block(time_ns)),
    ];
    if let Some(ns) = s(e, &["objectRef", "namespace"]) {
        features.push((Feature::Namespace, ns.to_string()));
    }
    let ip = e
        .get("sourceIPs")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .and_then(Value::as_str)
        .unwrap_or("");
    if !ip.is_empty() {
        features.push((Feature::Network, network_of(ip)));
    }
    if let Some(ua) = s(e, &["userAgent"]) {
        features.push((Feature::UserAgent, user_agent_family(ua)));
    }
    let code = e
        .pointer("/responseStatus/code")
        .and_then(Value::as_i64)
        .unwrap_or(200);
    Some(Observation {
        entity: user.to_string(),
        peer_group,
        time_ns,
        features,
        denied: code == 403 || code == 401,
        summary: format!(
            "{action}{}",
            if code >= 400 {
                format!(" ({code})")
            } else {
                String::new()
            }
        ),
        event_id: s(e, &["auditID"]).unwrap_or("").to_string(),
    })
}

/// Sensitive Kubernetes actions: novelty in these counts fully.
pub fn sensitive_k8s(action: &str) -> bool {
    ["/exec", "/attach", "/portforward", "/proxy"]
        .iter()
        .any(|s| action.ends_with(s))
        || action.starts_with("get secrets")
        || action.starts_with("list secrets")
        || action.starts_with("watch secrets")
        || action.contains("serviceaccounts/token")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agent_families() {
        assert_eq!(user_agent_family("aws-cli/2.13.0 Python/3.11.4 Linux/6.2 exe/x86_64.ubuntu.22 prompt/off command/s3.ls"), "aws-cli Python Linux");
        assert_eq!(
            user_agent_family("[S3Console/0.4, aws-internal/3 aws-sdk-java/1.12.488]"),
            "S3Console aws-internal aws-sdk-java"
        );
        assert_eq!(
            user_agent_family("stratus-red-team_d3ae5e9c-8dee-4b0c-9c0a-4c4c3b9e2f71"),
            "stratus-red-team"
        );
        assert_eq!(user_agent_family("Terraform/1.5.2 (+https://www.terraform.io) terraform-provider-aws/5.7.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.18.1 os/linux"), "Terraform terraform-provider-aws aws-sdk-go-v2");
        assert_eq!(user_agent_family("AWS Internal"), "AWS Internal");
        assert_eq!(user_agent_family(""), "(none)");
    }

    #[test]
    fn networks() {
        assert_eq!(network_of("203.0.113.77"), "203.0.113.0/24");
        assert_eq!(network_of("2001:db8:1:2::5"), "2001:db8:1::/48");
        assert_eq!(network_of("AWS Internal"), "AWS Internal");
        assert_eq!(network_of("211.9.016.253"), "211.9.016.253");
    }

    #[test]
    fn kubernetes_observations() {
        let e = serde_json::json!({"kind": "Event", "stage": "ResponseComplete", "verb": "create", "auditID": "a1",
            "user": {"username": "system:serviceaccount:ci:builder"}, "sourceIPs": ["10.0.0.7"],
            "objectRef": {"resource": "pods", "subresource": "exec", "namespace": "prod"},
            "responseStatus": {"code": 101}, "userAgent": "kubectl/v1.29.0 (linux/amd64) kubernetes/abc"});
        let o = from_k8s_audit(&e, 0).unwrap();
        assert_eq!(o.entity, "system:serviceaccount:ci:builder");
        assert_eq!(o.peer_group, "k8s:serviceaccount/ci");
        assert!(o
            .features
            .contains(&(Feature::K8sAction, "create pods/exec".into())));
        assert!(sensitive_k8s("create pods/exec"));
        assert!(!o.denied);
        let mut e2 = e.clone();
        e2["stage"] = "RequestReceived".into();
        assert!(from_k8s_audit(&e2, 0).is_none());
    }
}
