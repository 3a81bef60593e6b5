//! Reading rules files and directories from disk.

use std::path::Path;

use anyhow::Context;
use tripline_rules::falco::RulesFile;

/// Reads `paths` in order; a directory contributes its `*.yaml`/`*.yml` files, sorted.
pub fn read(paths: &[String]) -> anyhow::Result<Vec<RulesFile>> {
    let mut out = Vec::new();
    for p in paths {
        let path = Path::new(p);
        if path.is_dir() {
            let mut files: Vec<_> = std::fs::read_dir(path)
                .with_context(|| format!("reading rules directory {p}"))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "yaml" || x == "yml"))
                .collect();
            files.sort();
            for f in files {
                out.push(read_one(&f.display().to_string())?);
            }
        } else {
            out.push(read_one(p)?);
        }
    }
    Ok(out)
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
