//! Effective permissions per principal: all its policies (own, attached, its groups'),
//! denies across policies, and its permission boundary.

use std::collections::HashMap;

use fixedbitset::FixedBitSet;
use rayon::prelude::*;

use super::account::{Account, Identity, IdentityKind};
use super::catalog::Catalog;
use super::eval::{evaluate, Decision, Request};
use super::policy::PolicyDocument;
use super::risk::{self, PolicyGrants};

/// A principal with its policies resolved.
pub struct Effective<'a> {
    /// The user or role.
    pub who: &'a Identity,
    /// Its policy documents, labelled (`managed:Name`, `group:G/inline:Name`).
    pub docs: Vec<(String, &'a PolicyDocument)>,
    /// Its permission boundary.
    pub boundary: Option<&'a PolicyDocument>,
    /// Every action some Allow statement names (any resource, any condition), minus actions
    /// denied on `*`, within the boundary.
    pub granted: FixedBitSet,
    /// Actions allowed on any resource without conditions, minus denies, within the boundary.
    pub unrestricted: FixedBitSet,
    /// Permissions-management actions allowed on any resource.
    pub exposure: FixedBitSet,
}

impl Effective<'_> {
    /// Whether the principal may call `action` on `resource` (its own name and ARN in the
    /// context, as IAM fills `aws:username` and `aws:PrincipalArn`).
    pub fn allows(&self, action: &str, resource: &str, extra: &[(&str, &str)]) -> bool {
        let mut req = Request::new(action, resource).with("aws:principalarn", &[&self.who.arn]);
        if self.who.kind == IdentityKind::User {
            req = req.with("aws:username", &[&self.who.name]);
        }
        for (k, v) in extra {
            req = req.with(k, &[v]);
        }
        let docs: Vec<&PolicyDocument> = self.docs.iter().map(|(_, d)| *d).collect();
        evaluate(&docs, self.boundary, &req) == Decision::Allow
    }

    /// Whether some Allow statement names the action (cheap pre-check before [`Self::allows`]).
    pub fn may(&self, cat: &Catalog, action: &str) -> bool {
        cat.lookup(action)
            .is_some_and(|id| self.granted[id as usize])
    }
}

/// Per-document grants, computed once per distinct document.
pub struct GrantCache {
    by_doc: HashMap<usize, PolicyGrants>,
}

impl GrantCache {
    /// Expands every managed and inline policy of the account (in parallel).
    pub fn build(cat: &Catalog, acct: &Account) -> GrantCache {
        let mut docs: Vec<&PolicyDocument> = acct.policies.values().map(|p| &p.document).collect();
        for i in &acct.identities {
            docs.extend(i.grants.inline.iter().map(|p| &p.document));
        }
        let by_doc = docs
            .par_iter()
            .map(|d| (*d as *const PolicyDocument as usize, risk::grants(cat, d)))
            .collect();
        GrantCache { by_doc }
    }

    /// Grants of a document of this account.
    pub fn get(&self, doc: &PolicyDocument) -> Option<&PolicyGrants> {
        self.by_doc.get(&(doc as *const PolicyDocument as usize))
    }
}

/// Resolves every principal (users and roles) of the account.
pub fn principals<'a>(cat: &Catalog, acct: &'a Account, cache: &GrantCache) -> Vec<Effective<'a>> {
    let who: Vec<&Identity> = acct.principals().collect();
    who.par_iter()
        .map(|w| {
            let docs = acct.policies_of(w);
            let mut granted = cat.empty_set();
            let mut unrestricted = cat.empty_set();
            let mut exposure = cat.empty_set();
            let mut denied = cat.empty_set();
            for (_, d) in &docs {
                if let Some(g) = cache.get(d) {
                    granted.union_with(&g.allowed_any);
                    unrestricted.union_with(&g.unrestricted);
                    exposure.union_with(&g.exposure);
                    denied.union_with(&g.denied);
                }
            }
            granted.difference_with(&denied);
            unrestricted.difference_with(&denied);
            exposure.difference_with(&denied);
            let boundary = acct.boundary_of(w);
            if let Some(b) = boundary.and_then(|b| cache.get(b).map(|g| (b, g))) {
                granted.intersect_with(&b.1.allowed_any);
                unrestricted.intersect_with(&b.1.allowed_any);
                exposure.intersect_with(&b.1.allowed_any);
            }
            Effective {
                who: w,
                docs,
                boundary,
                granted,
                unrestricted,
                exposure,
            }
        })
        .collect()
}
