//! Who can become whom: a directed graph of identities, edges labelled with the permission
//! that lets one act as the other, and the shortest path from each identity to an
//! admin-equivalent one.

use std::collections::{HashMap, VecDeque};

use serde::Serialize;

/// An identity in the graph.
#[derive(Debug, Clone, Serialize)]
pub struct Node {
    /// ARN, or `k8s:User jane` / `k8s:ServiceAccount ns/sa`.
    pub id: String,
    /// Why the identity is admin-equivalent, when it is.
    pub admin: Option<String>,
}

/// One way to become another identity.
#[derive(Debug, Clone, Serialize)]
pub struct Edge {
    /// From node index.
    pub from: usize,
    /// To node index.
    pub to: usize,
    /// How (`sts:AssumeRole`, `iam:PassRole + lambda:CreateFunction + lambda:InvokeFunction`).
    pub how: String,
}

/// One hop of a path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// How.
    pub how: String,
    /// The identity reached.
    pub to: String,
}

/// The shortest way from an identity to admin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EscalationPath {
    /// Start.
    pub from: String,
    /// Hops, in order.
    pub steps: Vec<Step>,
    /// Why the last identity is admin-equivalent.
    pub admin_because: String,
}

impl EscalationPath {
    /// `a -[how]-> b -[how]-> c (admin: why)`.
    pub fn display(&self) -> String {
        let mut s = self.from.clone();
        for st in &self.steps {
            s.push_str(&format!(" -[{}]-> {}", st.how, st.to));
        }
        s.push_str(&format!("  (admin: {})", self.admin_because));
        s
    }
}

/// The graph.
///
/// ```
/// use tripline_identity::graph::Graph;
/// let mut g = Graph::default();
/// let dev = g.node("dev");
/// let ops = g.node("ops");
/// g.set_admin(ops, "allows * on *");
/// g.edge(dev, ops, "sts:AssumeRole");
/// let paths = g.paths_to_admin();
/// assert_eq!(paths[0].display(), "dev -[sts:AssumeRole]-> ops  (admin: allows * on *)");
/// ```
#[derive(Debug, Clone, Default, Serialize)]
pub struct Graph {
    /// Nodes.
    pub nodes: Vec<Node>,
    /// Edges.
    pub edges: Vec<Edge>,
    #[serde(skip)]
    index: HashMap<String, usize>,
}

impl Graph {
    /// The node for `id`, created when new.
    pub fn node(&mut self, id: &str) -> usize {
        if let Some(&i) = self.index.get(id) {
            return i;
        }
        self.nodes.push(Node {
            id: id.to_string(),
            admin: None,
        });
        self.index.insert(id.to_string(), self.nodes.len() - 1);
        self.nodes.len() - 1
    }

    /// Looks a node up.
    pub fn find(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }

    /// Marks a node admin-equivalent.
    pub fn set_admin(&mut self, n: usize, why: &str) {
        if self.nodes[n].admin.is_none() {
            self.nodes[n].admin = Some(why.to_string());
        }
    }

    /// Adds an edge (self-loops are dropped).
    pub fn edge(&mut self, from: usize, to: usize, how: &str) {
        if from != to {
            self.edges.push(Edge {
                from,
                to,
                how: how.to_string(),
            });
        }
    }

    /// For every identity that is not admin but can reach one, the shortest path (fewest
    /// hops; ties go to the edge added first). One breadth-first search backwards from all
    /// admins at once: linear in nodes and edges.
    pub fn paths_to_admin(&self) -> Vec<EscalationPath> {
        let mut incoming: Vec<Vec<usize>> = vec![Vec::new(); self.nodes.len()];
        for (i, e) in self.edges.iter().enumerate() {
            incoming[e.to].push(i);
        }
        // next[n] = the edge to take from n towards the nearest admin.
        let mut next: Vec<Option<usize>> = vec![None; self.nodes.len()];
        let mut done = vec![false; self.nodes.len()];
        let mut queue = VecDeque::new();
        for (i, n) in self.nodes.iter().enumerate() {
            if n.admin.is_some() {
                done[i] = true;
                queue.push_back(i);
            }
        }
        while let Some(n) = queue.pop_front() {
            for &ei in &incoming[n] {
                let from = self.edges[ei].from;
                if !done[from] {
                    done[from] = true;
                    next[from] = Some(ei);
                    queue.push_back(from);
                }
            }
        }
        let mut out = Vec::new();
        for (start, first) in next.iter().enumerate() {
            let Some(mut ei) = *first else { continue };
            let mut steps = Vec::new();
            loop {
                let e = &self.edges[ei];
                steps.push(Step {
                    how: e.how.clone(),
                    to: self.nodes[e.to].id.clone(),
                });
                match next[e.to] {
                    Some(n) => ei = n,
                    None => {
                        out.push(EscalationPath {
                            from: self.nodes[start].id.clone(),
                            steps,
                            admin_because: self.nodes[e.to].admin.clone().unwrap_or_default(),
                        });
                        break;
                    }
                }
            }
        }
        out.sort_by(|a, b| a.steps.len().cmp(&b.steps.len()).then(a.from.cmp(&b.from)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortest_paths_through_chains_and_cycles() {
        let mut g = Graph::default();
        let (a, b, c, d, e) = (
            g.node("a"),
            g.node("b"),
            g.node("c"),
            g.node("d"),
            g.node("e"),
        );
        g.set_admin(d, "root");
        g.edge(a, b, "1");
        g.edge(b, a, "cycle");
        g.edge(b, c, "2");
        g.edge(c, d, "3");
        g.edge(a, d, "direct");
        g.edge(e, e, "self");
        let paths = g.paths_to_admin();
        let by: HashMap<&str, &EscalationPath> =
            paths.iter().map(|p| (p.from.as_str(), p)).collect();
        assert_eq!(by["a"].steps.len(), 1);
        assert_eq!(by["a"].steps[0].how, "direct");
        assert_eq!(by["b"].steps.len(), 2, "{:?}", by["b"]);
        assert_eq!(by["c"].steps.len(), 1);
        assert!(!by.contains_key("d") && !by.contains_key("e"));
    }
}
