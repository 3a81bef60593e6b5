//! Scoring an event against its entity's baseline and its peers', with the reasons.
//!
//! - Each categorical feature value gets two surprises: against the entity's own history,
//!   for a value it never had, `min(1, log10(1 / p) / 2.5)` with `p` the Good–Turing chance of
//!   something new: the share of its events that brought a value seen only once (at least
//!   `1 / (N + 1)`). An identity that keeps doing new things (a deploy pipeline) is less
//!   surprised by novelty than one that never does. A value seen once or twice counts half or
//!   a quarter of that; a value seen more often, nothing. And against its peers: the share of
//!   other members of its peer group that never had the value, for values the entity itself
//!   never had. The peer group is the closest with at least three other members: the role's
//!   family, the container's image, a service account's namespace; else the wider group
//!   (every assumed role, every container).
//!   They blend by experience: `w = N / (N + 5)` for the entity, the rest for the peers, so a
//!   young entity is judged mostly by what its peers do.
//! - Volume: calls in the current ten minutes against the entity's usual rate for that hour
//!   (Poisson tail); the same for refused calls (AccessDenied bursts).
//! - The parts combine as a noisy OR of weighted surprises: `1 - Π(1 - w·s)`.

use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::baseline::{Baseline, EntityState};
use crate::features::{peer_chain, sensitive_k8s, Feature, Observation};

const PSEUDO_EVENTS: f64 = 5.0;
/// A peer group speaks for an entity once it has this many other members.
const MIN_PEERS: u64 = 3;
const TEN_MINUTES: u64 = 600_000_000_000;

/// One reason an event scored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Part {
    /// Feature (`api`, `volume`, `denied_burst`, `entity`).
    pub feature: String,
    /// The value (`ec2:GetPasswordData`).
    pub value: String,
    /// Surprise, 0..1.
    pub surprise: f64,
    /// Weight, 0..1.
    pub weight: f64,
    /// The numbers behind it, for people.
    pub why: String,
}

/// An event's score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Score {
    /// Combined, 0..1.
    pub total: f64,
    /// Contributing parts, largest first.
    pub parts: Vec<Part>,
}

#[derive(Default)]
struct Window {
    index: u64,
    calls: u64,
    denied: u64,
}

/// Scores a stream of observations against a baseline (which it never changes).
///
/// ```
/// use tripline_anomaly::{Baseline, Scorer, features::from_cloudtrail};
/// let ev = |name: &str| from_cloudtrail(&serde_json::json!({"eventSource": "s3.amazonaws.com",
///     "eventName": name, "sourceIPAddress": "10.0.0.1", "userAgent": "aws-cli/2",
///     "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::1:user/bob"}}), 1_700_000_000_000_000_000).unwrap();
/// let mut b = Baseline::default();
/// for _ in 0..100 { b.learn(&ev("GetObject")); }
/// let mut s = Scorer::new(&b);
/// assert!(s.score(&ev("GetObject")).total < 0.1);
/// let odd = s.score(&ev("PutBucketPolicy"));
/// assert!(odd.total > 0.6);
/// assert!(odd.parts[0].why.starts_with("seen 0 times in 100 events"));
/// ```
pub struct Scorer<'b> {
    baseline: &'b Baseline,
    exposure: [u64; 24],
    windows: FxHashMap<String, Window>,
    /// Per entity and feature: values seen exactly once (Good–Turing's N1).
    singletons: FxHashMap<&'b str, [u64; 13]>,
}

/// `P(X >= k)` for `X ~ Poisson(lambda)`, by summing the lower terms.
fn poisson_tail(lambda: f64, k: u64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    let lambda = lambda.max(1e-9);
    let mut term = (-lambda).exp();
    let mut below = term;
    for i in 1..k.min(5000) {
        term *= lambda / i as f64;
        below += term;
    }
    (1.0 - below).max(0.0)
}

impl<'b> Scorer<'b> {
    /// A scorer over `baseline`.
    pub fn new(baseline: &'b Baseline) -> Scorer<'b> {
        Scorer {
            baseline,
            exposure: baseline.exposure(),
            windows: FxHashMap::default(),
            singletons: baseline
                .entities
                .iter()
                .map(|(name, e)| {
                    let mut n1 = [0u64; 13];
                    for ((f, _), n) in &e.values {
                        if *n == 1 {
                            n1[f.index()] += 1;
                        }
                    }
                    (name.as_str(), n1)
                })
                .collect(),
        }
    }

    /// The closest group with enough other members to ask (its own family, then wider), or
    /// the widest one there is.
    fn peer_group<'g>(
        &self,
        group: &'g str,
        known: bool,
    ) -> (&'g str, Option<&'b crate::baseline::PeerState>) {
        let mut widest = (group, None);
        for g in peer_chain(group) {
            let Some(p) = self.baseline.peers.get(g) else {
                continue;
            };
            widest = (g, Some(p));
            if p.members.saturating_sub(known as u64) >= MIN_PEERS {
                return (g, Some(p));
            }
        }
        widest
    }

    fn days(&self) -> String {
        let d = self.baseline.days();
        if d >= 1.0 {
            format!("{:.0} days", d.ceil())
        } else {
            format!("{:.0} minutes", d * 1440.0)
        }
    }

    /// Scores one observation.
    pub fn score(&mut self, o: &Observation) -> Score {
        let entity = self.baseline.entities.get(&o.entity);
        let (group, peer) = self.peer_group(&o.peer_group, entity.is_some());
        let members = peer.map_or(0, |p| p.members);
        let mut parts = Vec::new();
        if entity.is_none() {
            parts.push(Part {
                feature: "entity".into(),
                value: o.entity.clone(),
                surprise: 1.0,
                weight: 0.5,
                why: format!(
                    "first activity of this identity; its peer group {group} has {members} members"
                ),
            });
        }
        let n_total = entity.map_or(0, |e| e.events);
        let hour = (o.time_ns / 3_600_000_000_000 % 24) as usize;
        let watched_block = (hour / 4 * 4..hour / 4 * 4 + 4).any(|h| self.exposure[h] > 0);
        for (f, v) in &o.features {
            // "Never at this time of day" means something only if the baseline watched it.
            if *f == Feature::TimeOfDay && !watched_block {
                continue;
            }
            let key = (*f, v.clone());
            let n_v = entity
                .and_then(|e| e.values.get(&key))
                .copied()
                .unwrap_or(0);
            let having = peer.and_then(|p| p.having.get(&key)).copied().unwrap_or(0);
            // Peers other than this entity.
            let (having_others, others) = match entity {
                Some(e) if e.values.contains_key(&key) => {
                    (having.saturating_sub(1), members.saturating_sub(1))
                }
                Some(_) => (having, members.saturating_sub(1)),
                None => (having, members),
            };
            let n1 = self
                .singletons
                .get(o.entity.as_str())
                .map_or(0, |a| a[f.index()]);
            let p_new = (n1.max(1) as f64 / (n_total + 1) as f64).min(1.0);
            let s_self = if n_total == 0 {
                0.0
            } else if n_v == 0 {
                (p_new.recip().log10() / 2.5).clamp(0.0, 1.0)
            } else {
                // Rarity: a value seen once or twice is half or a quarter as surprising as a
                // new one; anything seen more often is part of the entity's behaviour.
                let new = (p_new.recip().log10() / 2.5).clamp(0.0, 1.0);
                match n_v {
                    1 => new * 0.5,
                    2 => new * 0.25,
                    _ => 0.0,
                }
            };
            // With no peers to ask, assume half of them would have done it.
            let s_peer = if others == 0 {
                0.5
            } else {
                1.0 - having_others as f64 / others as f64
            };
            let w_self = n_total as f64 / (n_total as f64 + PSEUDO_EVENTS);
            // Peers help judge what the entity never did; what it did itself is its own.
            let s = if n_v > 0 {
                s_self
            } else {
                w_self * s_self + (1.0 - w_self) * s_peer
            };
            if s < 0.05 {
                continue;
            }
            let weight = match f {
                Feature::K8sAction if sensitive_k8s(v) => 1.0,
                _ => f.weight(),
            };
            parts.push(Part {
                feature: f.as_str().into(),
                value: v.clone(),
                surprise: s,
                weight,
                why: format!(
                    "seen {n_v} times in {n_total} events over {}{}; peers: {having_others} of {others} in {group}",
                    self.days(),
                    if n_v == 0 && n_total > 0 && n1 > 0 {
                        format!(" ({:.0}% of its events brought a new {})", p_new * 100.0, f.as_str())
                    } else {
                        String::new()
                    }
                ),
            });
        }
        self.volume(o, entity, &mut parts);
        let total = 1.0
            - parts
                .iter()
                .map(|p| 1.0 - p.weight * p.surprise)
                .product::<f64>();
        parts.sort_by(|a, b| {
            (b.weight * b.surprise)
                .partial_cmp(&(a.weight * a.surprise))
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        Score { total, parts }
    }

    fn volume(&mut self, o: &Observation, entity: Option<&EntityState>, parts: &mut Vec<Part>) {
        let index = o.time_ns / TEN_MINUTES;
        let w = match self.windows.get_mut(&o.entity) {
            Some(w) => w,
            None => self.windows.entry(o.entity.clone()).or_default(),
        };
        if w.index != index {
            *w = Window {
                index,
                calls: 0,
                denied: 0,
            };
        }
        w.calls += 1;
        w.denied += o.denied as u64;
        let (calls, denied) = (w.calls, w.denied);
        let hour = (o.time_ns / 3_600_000_000_000 % 24) as usize;
        let windows = self.exposure.iter().sum::<u64>().max(1) as f64;
        let (rate, denied_rate) = match entity {
            // The entity's usual rate for this hour (add-one smoothed), or overall when the
            // baseline never watched this hour.
            Some(e) if self.exposure[hour] > 0 => (
                (e.hourly[hour] as f64 + 1.0) / (self.exposure[hour] as f64 + 1.0),
                (e.denied as f64 + 1.0) / (windows + 1.0),
            ),
            Some(e) => (
                (e.events as f64 + 1.0) / (windows + 1.0),
                (e.denied as f64 + 1.0) / (windows + 1.0),
            ),
            None => (1.0, 0.1),
        };
        if calls >= 10 {
            let s = (-poisson_tail(rate, calls).max(1e-300).log10() / 12.0).clamp(0.0, 1.0);
            if s >= 0.05 {
                parts.push(Part {
                    feature: "volume".into(),
                    value: format!("{calls} calls in 10 minutes"),
                    surprise: s,
                    weight: 0.6,
                    why: format!("usually {rate:.1} per 10 minutes at {hour:02}h"),
                });
            }
        }
        if denied >= 3 {
            let s = (-poisson_tail(denied_rate, denied).max(1e-300).log10() / 6.0).clamp(0.0, 1.0);
            if s >= 0.05 {
                parts.push(Part {
                    feature: "denied_burst".into(),
                    value: format!("{denied} refused calls in 10 minutes"),
                    surprise: s,
                    weight: 0.7,
                    why: format!("usually {denied_rate:.2} refused per 10 minutes"),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::from_cloudtrail;

    const T0: u64 = 1_700_000_000_000_000_000;

    fn ev(who: &str, name: &str, ip: &str, t: u64, error: Option<&str>) -> Observation {
        let mut r = serde_json::json!({"eventSource": "iam.amazonaws.com", "eventName": name,
            "sourceIPAddress": ip, "userAgent": "aws-cli/2.0", "awsRegion": "us-east-1",
            "userIdentity": {"type": "IAMUser", "arn": format!("arn:aws:iam::1:user/{who}")}});
        if let Some(e) = error {
            r["errorCode"] = e.into();
        }
        from_cloudtrail(&r, t).unwrap()
    }

    fn trained() -> Baseline {
        let mut b = Baseline::default();
        // 37 peers that all list users; alice also reads roles, every day for two weeks.
        for i in 0..37 {
            b.learn(&ev(&format!("peer{i}"), "ListUsers", "10.0.0.1", T0, None));
        }
        for d in 0..14u64 {
            for h in 0..4u64 {
                b.learn(&ev(
                    "alice",
                    "GetRole",
                    "10.0.0.1",
                    T0 + d * 86_400_000_000_000 + h * 600_000_000_000,
                    None,
                ));
            }
        }
        b
    }

    #[test]
    fn known_behaviour_is_quiet_new_behaviour_explains_itself() {
        let b = trained();
        let mut s = Scorer::new(&b);
        let quiet = s.score(&ev(
            "alice",
            "GetRole",
            "10.0.0.1",
            T0 + 20 * 86_400_000_000_000,
            None,
        ));
        assert!(quiet.total < 0.2, "{quiet:?}");
        let odd = s.score(&ev(
            "alice",
            "CreateAccessKey",
            "10.0.0.1",
            T0 + 20 * 86_400_000_000_000,
            None,
        ));
        assert!(odd.total >= 0.6, "{odd:?}");
        assert_eq!(odd.parts[0].feature, "api");
        assert_eq!(
            odd.parts[0].why,
            "seen 0 times in 56 events over 14 days; peers: 0 of 37 in aws:IAMUser"
        );
        // What the peers all do is less surprising for alice than what nobody does.
        let peerish = s.score(&ev(
            "alice",
            "ListUsers",
            "10.0.0.1",
            T0 + 20 * 86_400_000_000_000,
            None,
        ));
        assert!(peerish.total < odd.total, "{peerish:?} vs {odd:?}");
    }

    #[test]
    fn young_entities_lean_on_their_peers() {
        let b = trained();
        let mut s = Scorer::new(&b);
        // A new user doing what every peer does is unremarkable beyond being new.
        let newbie = s.score(&ev("bob", "ListUsers", "10.0.0.1", T0, None));
        assert!(newbie.parts.iter().any(|p| p.feature == "entity"));
        assert!(
            !newbie.parts.iter().any(|p| p.feature == "api"),
            "{newbie:?}"
        );
        let odd = s.score(&ev("bob", "DeleteTrail", "198.51.100.1", T0, None));
        assert!(odd.total > newbie.total);
    }

    fn role_call(role: &str, name: &str) -> Observation {
        let arn = format!("arn:aws:iam::1:role/{role}");
        from_cloudtrail(
            &serde_json::json!({"eventSource": "s3.amazonaws.com", "eventName": name,
                "sourceIPAddress": "10.0.0.1", "userAgent": "aws-cli/2.0",
                "userIdentity": {"type": "AssumedRole", "arn": format!("{arn}/session"),
                    "sessionContext": {"sessionIssuer": {"arn": arn}}}}),
            T0,
        )
        .unwrap()
    }

    #[test]
    fn peers_are_the_role_family_when_it_is_large_enough() {
        let mut b = Baseline::default();
        // Four deploy roles all write objects; twenty other roles only read them.
        for env in ["prod", "staging", "dev", "qa"] {
            b.learn(&role_call(&format!("ci-deploy-{env}"), "PutObject"));
        }
        for i in 0..20 {
            b.learn(&role_call(&format!("reader{i}"), "GetObject"));
        }
        let mut s = Scorer::new(&b);
        // A new deploy role writing objects does what its family does.
        let deploy = s.score(&role_call("ci-deploy-perf", "PutObject"));
        assert!(
            !deploy.parts.iter().any(|p| p.feature == "api"),
            "{deploy:?}"
        );
        assert!(deploy.parts[0]
            .why
            .ends_with("its peer group aws:AssumedRole/ci-deploy has 4 members"));
        // A new role of no known family is judged by every assumed role: writing is rare there.
        let other = s.score(&role_call("batch", "PutObject"));
        let api = other.parts.iter().find(|p| p.feature == "api").unwrap();
        assert!(
            api.why.ends_with("peers: 4 of 24 in aws:AssumedRole"),
            "{api:?}"
        );
        assert!(other.total > deploy.total);
    }

    #[test]
    fn volume_spikes_and_denied_bursts() {
        let b = trained();
        let mut s = Scorer::new(&b);
        let t = T0 + 30 * 86_400_000_000_000;
        let mut last = None;
        for i in 0..30 {
            last = Some(s.score(&ev("alice", "GetRole", "10.0.0.1", t + i, None)));
        }
        let spike = last.unwrap();
        assert!(
            spike
                .parts
                .iter()
                .any(|p| p.feature == "volume" && p.value == "30 calls in 10 minutes"),
            "{spike:?}"
        );
        let mut last = None;
        for i in 0..6 {
            last = Some(s.score(&ev(
                "alice",
                "GetRole",
                "10.0.0.1",
                t + 10 * TEN_MINUTES + i,
                Some("AccessDenied"),
            )));
        }
        assert!(last
            .unwrap()
            .parts
            .iter()
            .any(|p| p.feature == "denied_burst"));
    }

    #[test]
    fn poisson_tail_is_sane() {
        assert!((poisson_tail(1.0, 1) - (1.0 - (-1.0f64).exp())).abs() < 1e-12);
        assert!(poisson_tail(1.0, 10) < 1e-6);
        assert!(poisson_tail(50.0, 10) > 0.99);
    }
}
