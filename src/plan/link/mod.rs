//! Probabilistic record linkage (the `link` kind), after Fellegi and Sunter: candidate pairs
//! from blocking rules, each field compared at a few levels, each level weighed by how much
//! more often it occurs among true matches (m) than among random pairs (u), the weights added
//! into a match probability. u comes from random record pairs, m from expectation-maximisation
//! over the candidate pairs, the prior from the estimated share of matches among them: no
//! labels are needed, and any of them can be fixed in the rule.

pub mod compare;
pub mod estimate;
pub mod exec;
pub mod names;
pub mod similar;

pub use estimate::{Estimated, FieldWeights};
pub use exec::run;

use super::expr::Expr;
use crate::job::rule::CompareMethod;

/// A `link` rule's plan node: everything the linkage needs, the expressions reading the `l.`
/// and `r.` prefixed sides.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkPlan {
    /// The rule, under whose id the estimated weights are reported.
    pub rule: String,
    /// One dataset linked to itself: each unordered pair once, clusters as leads.
    pub dedupe: bool,
    /// The record's identity in the leads (text).
    pub ids: (Expr, Expr),
    pub blocking: Vec<Blocking>,
    pub compare: Vec<Comparison>,
    pub threshold: f64,
    pub prior: Option<f64>,
    pub u_sample: u64,
    pub max_pairs: u64,
    /// Where a run leaves what it estimated (shared by the plan's clones).
    pub estimates: EstimateSlot,
}

/// What the last run of a `link` estimated; not part of the plan's identity.
#[derive(Debug, Clone, Default)]
pub struct EstimateSlot(pub std::sync::Arc<std::sync::Mutex<Option<Estimated>>>);

impl PartialEq for EstimateSlot {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl EstimateSlot {
    pub fn get(&self) -> Option<Estimated> {
        self.0.lock().ok().and_then(|e| e.clone())
    }

    pub fn set(&self, estimated: Option<Estimated>) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = estimated;
        }
    }
}

/// One blocking rule: equalities between the sides.
#[derive(Debug, Clone, PartialEq)]
pub struct Blocking {
    /// As written, for `blocked_by` and error messages.
    pub text: String,
    pub on: Vec<(Expr, Expr)>,
}

/// One compared field.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub field: String,
    pub method: CompareMethod,
    /// The value on each side, as text.
    pub left: Expr,
    pub right: Expr,
    pub term_frequency: bool,
    /// The similarities making the partial levels, highest first (`text`, `address`), when the
    /// rule gives its own.
    pub thresholds: Option<Vec<f64>>,
    pub fixed_m: Option<Vec<f64>>,
    pub fixed_u: Option<Vec<f64>>,
}

impl Comparison {
    /// The levels' labels, lowest first.
    pub fn labels(&self) -> Vec<String> {
        compare::level_labels(self.method, self.thresholds.as_deref())
    }
}

/// The columns a `link` adds to each pair, beside the `l.` and `r.` records.
pub fn output_columns(compare: &[(String, CompareMethod)]) -> Vec<String> {
    let mut out = vec![
        "match_probability".to_string(),
        "match_weight".to_string(),
        "blocked_by".to_string(),
        "cluster".to_string(),
    ];
    for (f, _) in compare {
        out.push(format!("{f}_level"));
        out.push(format!("{f}_weight"));
    }
    out
}

impl LinkPlan {
    /// The helper columns each side gets before the linkage, by name (see `exec`): the
    /// record's ID, each blocking rule's keys, each compared value. One list for both
    /// engines, so the Polars and the Spark sides are built alike.
    pub fn helper_columns(&self, left_side: bool) -> Vec<(String, &Expr)> {
        fn pick(pair: &(Expr, Expr), left_side: bool) -> &Expr {
            if left_side { &pair.0 } else { &pair.1 }
        }
        let mut cols = vec![(exec::id_column().to_string(), pick(&self.ids, left_side))];
        for (r, rule) in self.blocking.iter().enumerate() {
            for (p, on) in rule.on.iter().enumerate() {
                cols.push((exec::block_column(r, p), pick(on, left_side)));
            }
        }
        for (k, c) in self.compare.iter().enumerate() {
            let e = if left_side { &c.left } else { &c.right };
            cols.push((exec::compare_column(k), e));
        }
        cols
    }
}

impl std::fmt::Display for LinkPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let blocks: Vec<&str> = self.blocking.iter().map(|b| b.text.as_str()).collect();
        let fields: Vec<String> = self
            .compare
            .iter()
            .map(|c| format!("{} as {:?}", c.field, c.method))
            .collect();
        write!(
            f,
            "Link{} blocking [{}] comparing [{}] at probability >= {}",
            if self.dedupe { " (deduplicate)" } else { "" },
            blocks.join(" | "),
            fields.join(", "),
            self.threshold
        )
    }
}
