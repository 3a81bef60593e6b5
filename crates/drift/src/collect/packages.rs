//! Installed dpkg packages (`/var/lib/dpkg/status`).

use super::{Options, Snapshot};

pub(super) fn collect(opts: &Options, snap: &mut Snapshot) {
    let Ok(text) = std::fs::read_to_string(opts.path("/var/lib/dpkg/status")) else {
        return; // not a dpkg system (or a minimal image)
    };
    for stanza in text.split("\n\n") {
        let field = |name: &str| {
            stanza
                .lines()
                .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(": ")))
        };
        let installed = field("Status").is_some_and(|s| s.ends_with(" installed"));
        if let (true, Some(name), Some(version)) = (installed, field("Package"), field("Version")) {
            let name = match field("Architecture") {
                Some(arch) if arch != "all" && snap.packages.contains_key(name) => {
                    format!("{name}:{arch}")
                }
                _ => name.to_string(),
            };
            snap.packages.insert(name, version.to_string());
        }
    }
}
