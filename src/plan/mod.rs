//! The logical plan: one small, backend-neutral relational plan per rule (pure data, printable
//! by `explain`), compiled from the rule against the catalog's schemas before any data is read,
//! then lowered to a Polars LazyFrame.

pub mod compile;
pub mod exact;
pub mod expr;
mod group_by;
pub mod kinds;
pub mod link;
pub mod lower;
pub mod spark;

use std::fmt;

pub use compile::{Compiled, CompiledRule, KINDS, compile_rules};
pub use expr::Expr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinKind {
    Inner,
    Semi,
    Anti,
}

/// A relational plan node.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// A loaded dataset; adds `__dataset` with the dataset's name.
    Scan {
        dataset: String,
    },
    Filter {
        input: Box<Plan>,
        predicate: Expr,
    },
    /// Prefixes every column (`l.` / `r.`) so two sides can be joined without clashes.
    Prefix {
        input: Box<Plan>,
        prefix: String,
    },
    /// Adds or replaces columns.
    WithColumns {
        input: Box<Plan>,
        columns: Vec<(String, Expr)>,
    },
    /// Keeps exactly these columns, in this order.
    Project {
        input: Box<Plan>,
        columns: Vec<(String, Expr)>,
    },
    /// Equi-join; NULL keys never match.
    Join {
        left: Box<Plan>,
        right: Box<Plan>,
        kind: JoinKind,
        on: Vec<(Expr, Expr)>,
    },
    Aggregate {
        input: Box<Plan>,
        keys: Vec<(String, Expr)>,
        measures: Vec<(String, Expr)>,
    },
    Union {
        inputs: Vec<Plan>,
    },
    /// Stops the rule with a clear error when a key of the join below would pair more than
    /// `max_pairs` rows (the guard of `time_window` and `fuzzy_duplicate`).
    Guard {
        input: Box<Plan>,
        max_pairs: u64,
    },
    /// Probabilistic linkage of the `l.` and `r.` prefixed sides (the `link` kind): the pairs
    /// at or above its threshold, both records' columns beside the columns of
    /// `link::output_columns`.
    Link {
        left: Box<Plan>,
        right: Box<Plan>,
        link: Box<link::LinkPlan>,
    },
    /// A query in the engine's own SQL over the named datasets (the `sql` kind).
    Sql {
        query: String,
        datasets: Vec<String>,
    },
}

impl Plan {
    /// Adds every column name the plan reads to `out`; false when it cannot tell (an `sql`
    /// query reads what it names). Lets the engine load only the columns some rule uses.
    pub fn columns(&self, out: &mut Vec<String>) -> bool {
        let exprs = |cols: &[(String, Expr)], out: &mut Vec<String>| {
            cols.iter().for_each(|(_, e)| e.columns(out))
        };
        match self {
            Plan::Scan { .. } => true,
            Plan::Filter { input, predicate } => {
                predicate.columns(out);
                input.columns(out)
            }
            Plan::Prefix { input, .. } | Plan::Guard { input, .. } => input.columns(out),
            Plan::WithColumns { input, columns } | Plan::Project { input, columns } => {
                exprs(columns, out);
                input.columns(out)
            }
            Plan::Join {
                left, right, on, ..
            } => {
                for (a, b) in on {
                    a.columns(out);
                    b.columns(out);
                }
                left.columns(out) & right.columns(out)
            }
            Plan::Aggregate {
                input,
                keys,
                measures,
            } => {
                exprs(keys, out);
                exprs(measures, out);
                input.columns(out)
            }
            Plan::Union { inputs } => inputs.iter().fold(true, |ok, p| p.columns(out) & ok),
            Plan::Link { left, right, link } => {
                let (a, b) = &link.ids;
                a.columns(out);
                b.columns(out);
                for rule in &link.blocking {
                    for (a, b) in &rule.on {
                        a.columns(out);
                        b.columns(out);
                    }
                }
                for c in &link.compare {
                    c.left.columns(out);
                    c.right.columns(out);
                }
                left.columns(out) & right.columns(out)
            }
            Plan::Sql { .. } => false,
        }
    }

    /// The plans this one reads from.
    pub fn inputs(&self) -> Vec<&Plan> {
        match self {
            Plan::Scan { .. } | Plan::Sql { .. } => Vec::new(),
            Plan::Filter { input, .. }
            | Plan::Prefix { input, .. }
            | Plan::WithColumns { input, .. }
            | Plan::Project { input, .. }
            | Plan::Aggregate { input, .. }
            | Plan::Guard { input, .. } => vec![input],
            Plan::Join { left, right, .. } | Plan::Link { left, right, .. } => vec![left, right],
            Plan::Union { inputs } => inputs.iter().collect(),
        }
    }

    /// What the last run of this plan's `link` estimated, if it has one and it ran.
    pub fn link_estimates(&self) -> Option<link::Estimated> {
        self.link()?.estimates.get()
    }

    /// Records what a run elsewhere (Spark) estimated for this plan's `link` (None when it did
    /// not run: what lowering it over empty frames left is not an estimate).
    pub fn set_link_estimates(&self, estimated: Option<link::Estimated>) {
        if let Some(link) = self.link() {
            link.estimates.set(estimated);
        }
    }

    /// The plan's `link`, if it has one.
    fn link(&self) -> Option<&link::LinkPlan> {
        match self {
            Plan::Link { link, .. } => Some(link),
            _ => self.inputs().into_iter().find_map(Plan::link),
        }
    }

    pub fn filter(self, predicate: Option<Expr>) -> Plan {
        match predicate {
            Some(p) => Plan::Filter {
                input: Box::new(self),
                predicate: p,
            },
            None => self,
        }
    }

    fn fmt_indent(&self, f: &mut fmt::Formatter<'_>, depth: usize) -> fmt::Result {
        let pad = "  ".repeat(depth);
        let list = |cols: &[(String, Expr)]| {
            cols.iter()
                .map(|(n, e)| {
                    if e == &Expr::Col(n.clone()) {
                        n.clone()
                    } else {
                        format!("{e} AS {n}")
                    }
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self {
            Plan::Scan { dataset } => writeln!(f, "{pad}Scan {dataset}"),
            Plan::Filter { input, predicate } => {
                writeln!(f, "{pad}Filter {predicate}")?;
                input.fmt_indent(f, depth + 1)
            }
            Plan::Prefix { input, prefix } => {
                writeln!(f, "{pad}Prefix {prefix}")?;
                input.fmt_indent(f, depth + 1)
            }
            Plan::WithColumns { input, columns } => {
                writeln!(f, "{pad}WithColumns {}", list(columns))?;
                input.fmt_indent(f, depth + 1)
            }
            Plan::Project { input, columns } => {
                writeln!(f, "{pad}Project {}", list(columns))?;
                input.fmt_indent(f, depth + 1)
            }
            Plan::Join {
                left,
                right,
                kind,
                on,
            } => {
                let on: Vec<String> = on.iter().map(|(a, b)| format!("{a} = {b}")).collect();
                writeln!(f, "{pad}Join {kind:?} ON {}", on.join(" AND "))?;
                left.fmt_indent(f, depth + 1)?;
                right.fmt_indent(f, depth + 1)
            }
            Plan::Aggregate {
                input,
                keys,
                measures,
            } => {
                writeln!(
                    f,
                    "{pad}Aggregate BY {} COMPUTE {}",
                    list(keys),
                    list(measures)
                )?;
                input.fmt_indent(f, depth + 1)
            }
            Plan::Union { inputs } => {
                writeln!(f, "{pad}Union")?;
                inputs.iter().try_for_each(|i| i.fmt_indent(f, depth + 1))
            }
            Plan::Guard { input, max_pairs } => {
                writeln!(f, "{pad}Guard at most {max_pairs} pairs per key")?;
                input.fmt_indent(f, depth + 1)
            }
            Plan::Link { left, right, link } => {
                writeln!(f, "{pad}{link}")?;
                left.fmt_indent(f, depth + 1)?;
                right.fmt_indent(f, depth + 1)
            }
            Plan::Sql { query, datasets } => {
                let q = query.split_whitespace().collect::<Vec<_>>().join(" ");
                writeln!(f, "{pad}Sql over {}: {q}", datasets.join(", "))
            }
        }
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_indent(f, 0)
    }
}
