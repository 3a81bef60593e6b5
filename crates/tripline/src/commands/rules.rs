//! `tripline rules validate|list`.

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use tripline::{bundled, rules_files};
use tripline_rules::falco::{load, RulesFile};
use tripline_sources::schemas;

use super::args::*;

#[derive(Subcommand)]
pub(crate) enum RulesCommand {
    /// Load rules files and report errors and warnings with Falco's codes, file and line.
    ///
    /// Example: tripline rules validate k8s_audit_rules.yaml my_overrides.yaml
    Validate {
        /// Rules files or directories, loaded in order.
        #[arg(required = true)]
        files: Vec<String>,
    },
    /// List rules (default: the shipped upstream rules).
    List {
        /// Only rules of this source.
        #[arg(long)]
        source: Option<String>,
        /// Rules files instead of the shipped ones.
        #[arg(long = "rules", short = 'r')]
        rules: Vec<String>,
    },
}

pub(crate) fn validate_cmd(paths: &[String]) -> anyhow::Result<ExitCode> {
    let all = rules_files::read(paths)?;
    let (sigma_files, falco_files): (Vec<RulesFile>, Vec<RulesFile>) =
        all.into_iter().partition(rules_files::is_sigma);
    let mut ok = true;
    if !falco_files.is_empty() || sigma_files.is_empty() {
        let (rules, report) = load(&falco_files, &schemas());
        print_report(&report);
        let names: Vec<&str> = falco_files.iter().map(|f| f.name.as_str()).collect();
        if report.is_ok() {
            tripline::outln!(
                "{}: ok ({} rules, {} warnings)",
                names.join(", "),
                rules.rules().len(),
                report.warnings.len()
            );
        } else {
            ok = false;
            tripline::outln!(
                "{}: {} errors, {} warnings",
                names.join(", "),
                report.errors.len(),
                report.warnings.len()
            );
        }
    }
    if !sigma_files.is_empty() {
        let opts = tripline_sigma::LoadOptions {
            include_deprecated: true,
        };
        let (set, errors, _) = rules_files::load_sigma(&sigma_files, &[], opts);
        for e in &errors {
            eprintln!("error: {e}");
        }
        ok &= errors.is_empty();
        tripline::outln!(
            "Sigma: {} files, {} rules, {} correlations, {} errors",
            sigma_files.len(),
            set.rules().len(),
            set.correlations().correlations().len(),
            errors.len()
        );
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

pub(crate) fn list_cmd(source: Option<String>, paths: &[String]) -> anyhow::Result<ExitCode> {
    let files: Vec<RulesFile> = if paths.is_empty() {
        bundled::files()
            .into_iter()
            .filter(|(_, s, _)| source.as_deref().is_none_or(|want| want == *s))
            .map(|(n, _, t)| RulesFile {
                name: format!("<builtin>/{n}"),
                content: t.to_string(),
            })
            .collect()
    } else {
        rules_files::read(paths).context("reading rules")?
    };
    let mut listed = Vec::new();
    // Load each shipped file on its own: they belong to different sources and namespaces.
    for f in &files {
        let (rules, report) = load(std::slice::from_ref(f), &schemas());
        if !report.is_ok() {
            print_report(&report);
            return Ok(ExitCode::from(1));
        }
        listed.extend(rules.rules().to_vec());
    }
    let stdout = io::stdout();
    let mut out = stdout.lock();
    for r in listed
        .iter()
        .filter(|r| source.as_deref().is_none_or(|s| s == r.source))
    {
        writeln!(
            out,
            "{}\t{}\t{}\t{}\t{}",
            r.source,
            r.priority,
            if r.enabled { "enabled" } else { "disabled" },
            r.name,
            r.tags.join(",")
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `tripline rules`.
pub(crate) fn run(cmd: RulesCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        RulesCommand::Validate { files } => validate_cmd(&files),
        RulesCommand::List { source, rules } => list_cmd(source, &rules),
    }
}
