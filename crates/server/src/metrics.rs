//! `/metrics` in Prometheus text format. Labels are bounded: priorities, kinds and configured
//! output names, never rule names or hosts.

use std::fmt::Write;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use tripline_event::Priority;
use tripline_store::Kind;

use crate::auth::Caller;
use crate::AppState;

/// The metrics page.
pub async fn metrics(_c: Caller, State(st): State<AppState>) -> Response {
    let stats = st.stats();
    let counts = st
        .with_store(|s| {
            Ok((
                s.occurrences_by_level()?,
                s.outbox_health()?,
                s.suppressed()?,
            ))
        })
        .await;
    let (by, health, suppressed) = match counts {
        Ok(c) => c,
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e).into_response(),
    };
    let mut out = String::new();
    metric(
        &mut out,
        "tripline_events_total",
        "counter",
        "Events the engines evaluated.",
    );
    let _ = writeln!(out, "tripline_events_total {}", stats.events);
    metric(
        &mut out,
        "tripline_events_dropped_total",
        "counter",
        "Events lost before evaluation (kernel ring buffer full, undecodable).",
    );
    let _ = writeln!(out, "tripline_events_dropped_total {}", stats.drops);
    metric(
        &mut out,
        "tripline_events_rate",
        "gauge",
        "Events per second over the last interval.",
    );
    let _ = writeln!(out, "tripline_events_rate {:.1}", stats.events_per_sec);
    metric(
        &mut out,
        "tripline_rules_loaded",
        "gauge",
        "Rules loaded and enabled.",
    );
    let _ = writeln!(out, "tripline_rules_loaded {}", stats.rules);
    // Source labels are the configured `--source` arguments: bounded like output names.
    let per_source: [SourceMetric; 6] = [
        (
            "tripline_source_events_total",
            "counter",
            "Records a live source delivered and the engines evaluated.",
            |s| s.events as f64,
        ),
        (
            "tripline_source_rejected_total",
            "counter",
            "Records a live source refused as malformed.",
            |s| s.rejected as f64,
        ),
        (
            "tripline_source_refused_total",
            "counter",
            "Webhook requests refused with 429 because the pipeline queue was full.",
            |s| s.refused_full as f64,
        ),
        (
            "tripline_source_unauthorized_total",
            "counter",
            "Webhook requests refused with 401.",
            |s| s.unauthorized as f64,
        ),
        (
            "tripline_source_errors_total",
            "counter",
            "Read, decode or store errors of a live source.",
            |s| s.errors as f64,
        ),
        (
            "tripline_source_lag_seconds",
            "gauge",
            "Age of a live source's last batch when its findings were committed.",
            |s| s.lag_seconds,
        ),
    ];
    if !stats.sources.is_empty() {
        for (name, kind, help, value) in per_source {
            metric(&mut out, name, kind, help);
            for s in &stats.sources {
                let _ = writeln!(
                    out,
                    "{name}{{source=\"{}\"}} {}",
                    label(&s.source),
                    value(s)
                );
            }
        }
    }
    metric(
        &mut out,
        "tripline_findings_total",
        "counter",
        "Finding occurrences in the store, by priority and kind.",
    );
    for p in Priority::ALL {
        for k in Kind::ALL {
            let n = by
                .iter()
                .find(|(bp, bk, _)| *bp == p && *bk == k)
                .map_or(0, |b| b.2);
            let _ = writeln!(
                out,
                "tripline_findings_total{{priority=\"{}\",kind=\"{}\"}} {n}",
                p.name().to_lowercase(),
                k.as_str(),
            );
        }
    }
    metric(
        &mut out,
        "tripline_findings_suppressed_total",
        "counter",
        "Findings held back by per-rule rate limits.",
    );
    let total: i64 = suppressed.iter().map(|s| s.count).sum();
    let _ = writeln!(out, "tripline_findings_suppressed_total {total}");
    metric(
        &mut out,
        "tripline_output_pending",
        "gauge",
        "Findings waiting in the outbox, by output.",
    );
    let mut names: Vec<String> = st.outputs.iter().cloned().collect();
    for h in &health {
        if !names.contains(&h.output) {
            names.push(h.output.clone());
        }
    }
    let find = |n: &str| health.iter().find(|h| h.output == n);
    for n in &names {
        let _ = writeln!(
            out,
            "tripline_output_pending{{output=\"{n}\"}} {}",
            find(n).map_or(0, |h| h.pending)
        );
    }
    metric(
        &mut out,
        "tripline_output_delivered_total",
        "counter",
        "Findings delivered, by output.",
    );
    for n in &names {
        let _ = writeln!(
            out,
            "tripline_output_delivered_total{{output=\"{n}\"}} {}",
            find(n).map_or(0, |h| h.delivered)
        );
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}

fn metric(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// A per-source metric: name, type, help, and its value for one source.
type SourceMetric = (
    &'static str,
    &'static str,
    &'static str,
    fn(&crate::SourceStats) -> f64,
);

/// A Prometheus label value: backslash, quote and newline escaped.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
