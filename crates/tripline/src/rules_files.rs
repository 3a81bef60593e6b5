//! Reading rules files and directories from disk.

use std::path::Path;

use anyhow::Context;
use tripline_rules::falco::RulesFile;

/// Reads `paths` in order; a directory contributes its `*.yaml`/`*.yml` files, sorted, and
/// those of its subdirectories (Sigma rule trees are nested).
pub fn read(paths: &[String]) -> anyhow::Result<Vec<RulesFile>> {
    let mut out = Vec::new();
    for p in paths {
        let path = Path::new(p);
        if path.is_dir() {
            read_dir(path, &mut out)?;
        } else {
            out.push(read_one(p)?);
        }
    }
    Ok(out)
}

fn read_dir(dir: &Path, out: &mut Vec<RulesFile>) -> anyhow::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("reading rules directory {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for f in entries {
        if f.is_dir() {
            read_dir(&f, out)?;
        } else if f.extension().is_some_and(|x| x == "yaml" || x == "yml") {
            out.push(read_one(&f.display().to_string())?);
        }
    }
    Ok(())
}

/// Whether a rules file is Sigma (YAML maps with `detection`, `correlation` or `filter`)
/// rather than Falco (a YAML list of items).
pub fn is_sigma(file: &RulesFile) -> bool {
    file.content
        .lines()
        .map(str::trim_start)
        .find(|l| !l.is_empty() && !l.starts_with('#') && *l != "---")
        .is_some_and(|l| !l.starts_with('-'))
}

/// Loads Sigma files into a rule set, transformed by the pipeline files; errors are returned
/// as `file:line: message` lines.
pub fn load_sigma(
    files: &[RulesFile],
    pipeline_paths: &[String],
    opts: tripline_sigma::LoadOptions,
) -> (tripline_sigma::SigmaRuleset, Vec<String>, Vec<String>) {
    let pairs: Vec<(String, String)> = files
        .iter()
        .map(|f| (f.name.clone(), f.content.clone()))
        .collect();
    let mut pipelines = Vec::new();
    let mut errors = Vec::new();
    for p in pipeline_paths {
        match std::fs::read_to_string(p) {
            Ok(text) => match tripline_sigma::pipeline::Pipeline::from_yaml(p, &text) {
                Ok(pl) => pipelines.push(pl),
                Err(e) => errors.push(e.to_string()),
            },
            Err(e) => errors.push(format!("{p}: {e}")),
        }
    }
    if !errors.is_empty() {
        return (tripline_sigma::SigmaRuleset::default(), errors, Vec::new());
    }
    let docs = tripline_sigma::load_with(&pairs, &pipelines, opts);
    let errors = docs.errors.iter().map(ToString::to_string).collect();
    let skipped = docs.skipped.iter().map(ToString::to_string).collect();
    (tripline_sigma::SigmaRuleset::new(docs), errors, skipped)
}

fn read_one(path: &str) -> anyhow::Result<RulesFile> {
    let bytes = std::fs::read(path).with_context(|| format!("reading rules file {path}"))?;
    let content = String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "{path}: rules file is not valid UTF-8 (byte {})",
            e.utf8_error().valid_up_to()
        )
    })?;
    Ok(RulesFile {
        name: path.to_string(),
        content,
    })
}
