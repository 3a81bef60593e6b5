//! Glob and path-prefix patterns with Falco's semantics.

use globset::{GlobBuilder, GlobMatcher};

/// `glob` / `iglob`: fnmatch without FNM_PATHNAME, so `*` also matches `/`.
#[derive(Debug, Clone)]
pub struct Glob(GlobMatcher);

impl Glob {
    /// Compiles a pattern.
    pub fn new(pattern: &str, case_insensitive: bool) -> Result<Glob, String> {
        GlobBuilder::new(pattern)
            .literal_separator(false)
            .case_insensitive(case_insensitive)
            .backslash_escape(true)
            .empty_alternates(true)
            .build()
            .map(|g| Glob(g.compile_matcher()))
            .map_err(|e| format!("invalid glob '{pattern}': {e}"))
    }

    /// Whole-string match.
    pub fn matches(&self, text: &str) -> bool {
        self.0.is_match(text)
    }
}

/// `pmatch`: path-prefix match on whole components; entries may hold globs that never cross `/`.
#[derive(Debug, Clone)]
pub struct PathPrefixes {
    plain: Vec<String>,
    globbed: Vec<Vec<GlobMatcher>>,
}

impl PathPrefixes {
    /// Compiles the entries.
    pub fn new(entries: &[String]) -> Result<PathPrefixes, String> {
        let mut plain = Vec::new();
        let mut globbed = Vec::new();
        for e in entries {
            if e.contains(['*', '?', '[']) {
                let parts = e
                    .trim_end_matches('/')
                    .split('/')
                    .map(|part| {
                        GlobBuilder::new(part)
                            .literal_separator(true)
                            .build()
                            .map(|g| g.compile_matcher())
                            .map_err(|err| format!("invalid pmatch pattern '{e}': {err}"))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                globbed.push(parts);
            } else {
                plain.push(e.trim_end_matches('/').to_string());
            }
        }
        Ok(PathPrefixes { plain, globbed })
    }

    /// Whether `path` equals an entry or lies below one.
    pub fn matches(&self, path: &str) -> bool {
        let plain = self.plain.iter().any(|p| {
            path.strip_prefix(p.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/') || p.is_empty())
        });
        plain
            || self.globbed.iter().any(|parts| {
                let comps: Vec<&str> = path.split('/').collect();
                comps.len() >= parts.len() && parts.iter().zip(&comps).all(|(g, c)| g.is_match(c))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_star_crosses_slash() {
        let g = Glob::new("/etc/*", false).unwrap();
        assert!(g.matches("/etc/ssh/sshd_config"));
        assert!(!g.matches("/usr/etc"));
        assert!(Glob::new("*BASH*", true).unwrap().matches("/bin/bash"));
    }

    #[test]
    fn pmatch_whole_components() {
        let p = PathPrefixes::new(&["/tmp/hello".into(), "/var/*/log".into()]).unwrap();
        assert!(p.matches("/tmp/hello"));
        assert!(p.matches("/tmp/hello/x"));
        assert!(!p.matches("/tmp/hello_x"));
        assert!(p.matches("/var/app/log/a"));
        assert!(!p.matches("/var/a/b/log"));
    }
}
