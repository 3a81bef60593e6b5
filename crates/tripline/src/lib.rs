//! The `tripline` application: wires sources, rules and outputs together.
//!
//! The binary (`main.rs`) only parses flags; everything it does is here so tests can drive it.
#![warn(missing_docs)]

pub mod act;
pub mod anomaly;
pub mod bundled;
pub mod drift;
pub mod format;
pub mod gate;
pub mod identity;
pub mod live;
pub mod policy;
pub mod replay;
pub mod rules_files;
pub mod run;
pub mod stdout;

/// Files named by a path: the file, or the `.yaml`/`.yml`/`.json` files below a directory.
pub(crate) fn gate_files(path: &str) -> anyhow::Result<Vec<String>> {
    let p = std::path::Path::new(path);
    if p.is_file() {
        return Ok(vec![path.to_string()]);
    }
    let mut out = Vec::new();
    let mut stack = vec![p.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries =
            std::fs::read_dir(&dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
            } else if matches!(
                path.extension().and_then(|x| x.to_str()),
                Some("yaml" | "yml" | "json")
            ) {
                out.push(path.display().to_string());
            }
        }
    }
    out.sort();
    Ok(out)
}
