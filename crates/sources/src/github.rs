//! GitHub webhook deliveries (source `github`): one JSON object per line, the webhook payload
//! plus the delivery's event name in `type` (the `X-GitHub-Event` header). Time is the
//! delivery's `time` (RFC 3339) when present, else the reading time.
//!
//! The `github.diff.*` and `github.workflow.*` fields read what the live webhook
//! (`tripline run --source github=webhook`) learned from the GitHub API and kept in the event
//! under [`ENRICHMENT_KEY`]: the secrets in a push's diffs, the miner a requested workflow runs.
//! A recorded delivery without it has no value for them.

use std::sync::OnceLock;

use serde_json::Value as Json;
use tripline_event::Value;

use crate::json_event::{CustomFn, JsonSource, Style};

/// Source name.
pub const NAME: &str = "github";

/// Where the webhook keeps what it fetched from the GitHub API in an event:
/// `{"diff": {"has_secrets", "desc", "files", "lines", "links"}, "workflow": {"has_miners",
/// "miner_type", "filename"}}`.
pub const ENRICHMENT_KEY: &str = "tripline_enrichment";

/// This source for the rest of Tripline (see [`Descriptor`](crate::Descriptor)).
pub const DESCRIPTOR: crate::Descriptor = crate::Descriptor {
    name: NAME,
    source,
    detect,
    sigma: (None, Some("github"), Some("audit")),
    rules: &[(
        "github_rules.yaml",
        include_str!("../../../data/falco/rules/github_rules.yaml"),
    )],
};

/// Whether an input's first bytes look like this source.
fn detect(head: &[u8]) -> bool {
    use crate::descriptor::has;
    has(head, "\"sender\"") || has(head, "\"repository\"")
}

const FIELDS_TSV: &str = "name\ttype\tlist\targ\tjson_path\tdescription
github.type\tstring\tno\t\t$.type\tWebhook event type (X-GitHub-Event).
github.action\tstring\tno\t\t$.action\tAction.
github.user\tstring\tno\t\t$.sender.login\tUser who triggered the event.
github.owner\tstring\tno\t\t$.repository.owner.login\tRepository owner.
github.org\tstring\tno\t\t$.organization.login\tOrganization.
github.repo.name\tstring\tno\t\t$.repository.full_name\tRepository name.
github.repo.url\tstring\tno\t\t$.repository.html_url\tRepository URL.
github.repo.public\tstring\tno\t\t\tWhether the repository is public.
github.collaborator.name\tstring\tno\t\t$.member.login\tCollaborator added or removed.
github.collaborator.role\tstring\tno\t\t$.changes.permission.to\tCollaborator role.
github.webhook.id\tstring\tno\t\t$.hook.id\tWebhook id.
github.webhook.type\tstring\tno\t\t$.hook.type\tWebhook type.
github.commit.modified\tstring\tno\t\t\tFiles modified by the push.
github.diff.has_secrets\tstring\tno\t\t\tWhether the pushed diff contains secrets (from the GitHub API).
github.diff.committed_secrets.desc\tstring\tno\t\t\tSecret types found (from the GitHub API).
github.diff.committed_secrets.files\tstring\tno\t\t\tFiles with secrets (from the GitHub API).
github.diff.committed_secrets.lines\tstring\tno\t\t\tLines with secrets (from the GitHub API).
github.diff.committed_secrets.links\tstring\tno\t\t\tLinks to secrets (from the GitHub API).
github.workflow.has_miners\tstring\tno\t\t\tWhether a workflow runs a crypto miner (from the GitHub API).
github.workflow.miner_type\tstring\tno\t\t\tMiner type (from the GitHub API).
github.workflow.filename\tstring\tno\t\t\tWorkflow file (from the GitHub API).
";

const CUSTOM: &[(&str, CustomFn)] = &[
    ("github.repo.public", |e, _| {
        let private = e.json.get("repository")?.get("private")?.as_bool()?;
        Some(Value::from(if private { "false" } else { "true" }))
    }),
    ("github.commit.modified", |e, _| {
        let files: Vec<&str> = e
            .json
            .get("commits")?
            .as_array()?
            .iter()
            .flat_map(|c| {
                c.get("modified")
                    .and_then(Json::as_array)
                    .into_iter()
                    .flatten()
            })
            .filter_map(Json::as_str)
            .collect();
        Some(Value::from(files.join(",")))
    }),
    ("github.diff.has_secrets", |e, _| {
        enriched(e, "diff", "has_secrets")
    }),
    ("github.diff.committed_secrets.desc", |e, _| {
        enriched(e, "diff", "desc")
    }),
    ("github.diff.committed_secrets.files", |e, _| {
        enriched(e, "diff", "files")
    }),
    ("github.diff.committed_secrets.lines", |e, _| {
        enriched(e, "diff", "lines")
    }),
    ("github.diff.committed_secrets.links", |e, _| {
        enriched(e, "diff", "links")
    }),
    ("github.workflow.has_miners", |e, _| {
        enriched(e, "workflow", "has_miners")
    }),
    ("github.workflow.miner_type", |e, _| {
        enriched(e, "workflow", "miner_type")
    }),
    ("github.workflow.filename", |e, _| {
        enriched(e, "workflow", "filename")
    }),
];

/// The `github` source definition.
pub fn source() -> &'static JsonSource {
    static SOURCE: OnceLock<JsonSource> = OnceLock::new();
    SOURCE.get_or_init(|| {
        JsonSource::build(
            NAME,
            "github",
            FIELDS_TSV,
            Style::JsonText,
            CUSTOM,
            Vec::new(),
        )
        .with_plugin("github", "0.8.0")
    })
}

/// A value the webhook learned from the GitHub API, as the plugin's string field.
fn enriched<'a>(e: &'a crate::JsonEvent, part: &str, key: &str) -> Option<Value<'a>> {
    match e.json.get(ENRICHMENT_KEY)?.get(part)?.get(key)? {
        Json::Bool(b) => Some(Value::from(if *b { "true" } else { "false" })),
        Json::String(s) => Some(Value::from(s.as_str())),
        _ => None,
    }
}
