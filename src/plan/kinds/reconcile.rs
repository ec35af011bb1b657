//! `reconcile` — compares a numeric value per key between two datasets, each side aggregated
//! per key, and flags keys whose values differ beyond a tolerance, and keys present on one side
//! only.
//!
//! Example: book stock above measured stock per depot and bin ("paper grain").
//! ```yaml
//! reconcile:
//!   left: { dataset: grain_book_stock }
//!   right: { dataset: grain_stocktake }
//!   on: "l.depot = r.depot AND l.bin = r.bin"
//!   left_value: "sum(book_tonnes)"
//!   right_value: "sum(measured_tonnes)"
//!   direction: left_above          # left_above | right_above | either
//!   tolerance: { absolute: 5, relative: 0.03 }
//!   unmatched: both                # both | left | right | none
//! ```
//! A difference (left − right, or right − left, or its absolute value for `either`) is flagged
//! when it exceeds every tolerance given: more than `absolute`, and more than `relative` × the
//! absolute right-hand value (`relative_to: left`: the left-hand value). Both ends are
//! exclusive: a difference exactly at a tolerance is not flagged, compared as decimals
//! (`plan::exact`). Without a tolerance any difference is flagged. `difference` in evidence is
//! always left − right.
//! Output: one lead per key (`depot|bin`); the row is the first left record of the key (the
//! first right record for keys on the right only), with the partner's first record. Evidence
//! may use the key columns by their left names, `left_value`, `right_value`, `difference` and
//! `status` (`differs`, `left_only`, `right_only`).
//! Limits: NULL keys never match; a key that is NULL on one side counts as present on that
//! side only.

use super::super::compile::{Ctx, Sides, equi_keys, key_of, lead_projection, locate, prefixed};
use super::super::expr::{BinOp, Expr, ExprError, Func, Lit};
use super::super::{JoinKind, Plan};
use crate::job::catalog::ValueType;
use crate::job::rule::{Direction, EvidenceSpec, ReconcileSpec, RelativeTo, Unmatched};

fn bin(op: BinOp, a: Expr, b: Expr) -> Expr {
    Expr::Bin(op, Box::new(a), Box::new(b))
}
fn col(c: &str) -> Expr {
    Expr::Col(c.to_string())
}
fn text(s: &str) -> Expr {
    Expr::Lit(Lit::Text(s.into()))
}
fn float(v: f64) -> Expr {
    Expr::Lit(Lit::Float(v))
}

/// A value aggregated per key on one side.
fn side_value(
    ctx: &mut Ctx,
    text_expr: &serde_saphyr::Spanned<String>,
    cols: &[(String, ValueType)],
    name: &str,
) -> Option<Expr> {
    let mut scope = ctx.scope(cols.to_vec(), name);
    scope.allow_aggregates = true;
    let (e, t) = ctx.expr(text_expr, &scope)?;
    if !matches!(e, Expr::Agg(..)) || !matches!(t, ValueType::Int | ValueType::Float) {
        ctx.diags.push(locate(
            ctx.path,
            text_expr,
            ExprError {
                line: 1,
                column: 1,
                message: format!(
                    "this must be a numeric aggregate per key, such as sum(x); `{e}` is a {t}"
                ),
                help: Some("use sum(x) even when each key has one row".into()),
            },
        ));
        return None;
    }
    Some(e)
}

pub fn plan(ctx: &mut Ctx, spec: &ReconcileSpec, evidence: &[EvidenceSpec]) -> Option<Plan> {
    let sides = Sides::of(ctx, &spec.left, &spec.right)?;
    let (lcols, rcols, lname, rname) = (&sides.lcols, &sides.rcols, &sides.lname, &sides.rname);
    let pair = sides.scope(ctx, Vec::new());
    let on = equi_keys(ctx, &spec.on, &pair);
    let lv = side_value(ctx, &spec.left_value, lcols, lname);
    let rv = side_value(ctx, &spec.right_value, rcols, rname);
    let mut measures = |specs: &indexmap::IndexMap<String, serde_saphyr::Spanned<String>>,
                        cols: &[(String, ValueType)],
                        side: &str| {
        specs
            .iter()
            .map(|(n, e)| Some((n.clone(), side_value(ctx, e, cols, side)?)))
            .collect::<Vec<_>>()
    };
    let lm = measures(&spec.left_measures, lcols, lname);
    let rm = measures(&spec.right_measures, rcols, rname);
    let (on, lv, rv) = (on?, lv?, rv?);
    let lm: Vec<(String, Expr)> = lm.into_iter().collect::<Option<_>>()?;
    let rm: Vec<(String, Expr)> = rm.into_iter().collect::<Option<_>>()?;
    let reserved = ["left_value", "right_value", "difference", "status"];
    for (n, _) in lm.iter().chain(&rm) {
        let clash = reserved.contains(&n.as_str())
            || lm.iter().chain(&rm).filter(|(m, _)| m == n).count() > 1
            || lcols.iter().any(|(c, _)| c == n);
        if clash {
            ctx.diags.push(
                crate::job::yaml::at(
                    ctx.path,
                    &spec.left_value,
                    format!(
                        "measure `{n}` is named like a column, another measure or `{}`",
                        reserved.join("`, `")
                    ),
                )
                .with_help("give each measure a name of its own"),
            );
            return None;
        }
    }

    // Key columns are named after the left expressions (`depot`, `bin`), for evidence.
    let key_names: Vec<String> = on
        .iter()
        .enumerate()
        .map(|(i, (l, _))| match l {
            Expr::Col(c) => c.trim_start_matches("l.").to_string(),
            _ => format!("key{}", i + 1),
        })
        .collect();
    let mut ev_cols: Vec<(String, ValueType)> = key_names
        .iter()
        .map(|n| {
            (
                n.clone(),
                lcols
                    .iter()
                    .find(|(c, _)| c == n)
                    .map(|(_, t)| *t)
                    .unwrap_or(ValueType::Text),
            )
        })
        .collect();
    for (n, t) in [
        ("left_value", ValueType::Float),
        ("right_value", ValueType::Float),
        ("difference", ValueType::Float),
        ("status", ValueType::Text),
    ] {
        ev_cols.push((n.into(), t));
    }
    for (n, _) in lm.iter().chain(&rm) {
        ev_cols.push((n.clone(), ValueType::Float));
    }
    let ev_scope = ctx.scope(ev_cols, lname);
    let evidence = ctx.evidence(evidence, &ev_scope)?;

    let ks: Vec<String> = (0..on.len()).map(|i| format!("__k{i}")).collect();
    let side = |plan: Plan,
                prefix: &str,
                exprs: Vec<&Expr>,
                value: &Expr,
                value_name: &str,
                more: &[(String, Expr)],
                prov: [&str; 4]| {
        let mut measures = vec![(value_name.to_string(), prefixed(value, prefix))];
        for (n, e) in more {
            measures.push((n.clone(), prefixed(e, prefix)));
        }
        for (name, src) in prov.iter().zip(["__dataset", "__file", "__sheet", "__row"]) {
            // The key's first source row (smallest row id): all four from the same row.
            let first = Expr::FirstBy(
                Box::new(col(&format!("{prefix}{src}"))),
                Box::new(col(&format!("{prefix}__rid"))),
            );
            measures.push((name.to_string(), first));
        }
        Plan::Aggregate {
            input: Box::new(Plan::Prefix {
                input: Box::new(plan),
                prefix: prefix.into(),
            }),
            keys: ks.iter().cloned().zip(exprs.into_iter().cloned()).collect(),
            measures,
        }
    };
    let lagg = side(
        sides.left.clone(),
        "l.",
        on.iter().map(|(l, _)| l).collect(),
        &lv,
        "left_value",
        &lm,
        ["__dataset", "__file", "__sheet", "__row"],
    );
    let ragg = side(
        sides.right.clone(),
        "r.",
        on.iter().map(|(_, r)| r).collect(),
        &rv,
        "right_value",
        &rm,
        ["__rdataset", "__rfile", "__rsheet", "__rrow"],
    );
    let keys_on: Vec<(Expr, Expr)> = ks.iter().map(|k| (col(k), col(k))).collect();
    let partner = Expr::Func(
        Func::Concat,
        vec![
            col("__rfile"),
            text(":"),
            Expr::ToText(Box::new(col("__rrow"))),
        ],
    );

    let diff = bin(BinOp::Sub, col("left_value"), col("right_value"));
    let d = match spec.direction {
        Direction::LeftAbove => diff.clone(),
        Direction::RightAbove => Expr::Neg(Box::new(diff.clone())),
        Direction::Either => Expr::Func(Func::Abs, vec![diff.clone()]),
    };
    let tol = spec.tolerance.as_ref();
    let mut flag = Vec::new();
    if let Some(a) = tol.and_then(|t| t.absolute) {
        flag.push(bin(BinOp::Gt, d.clone(), float(a)));
    }
    if let Some(t) = tol
        && let Some(r) = t.relative
    {
        let base = match t.relative_to {
            RelativeTo::Left => "left_value",
            RelativeTo::Right => "right_value",
        };
        flag.push(bin(
            BinOp::Gt,
            d.clone(),
            bin(BinOp::Mul, float(r), Expr::Func(Func::Abs, vec![col(base)])),
        ));
    }
    if flag.is_empty() {
        flag.push(bin(BinOp::Gt, d, float(0.0)));
    }
    let flag = flag
        .into_iter()
        .reduce(|a, b| bin(BinOp::And, a, b))
        .expect("one condition");

    let columns = |status: &str, left_side: bool, matched: bool| -> Vec<(String, Expr)> {
        let null = || Expr::Lit(Lit::Null);
        let mut c: Vec<(String, Expr)> = ks.iter().map(|k| (k.clone(), col(k))).collect();
        c.push((
            "left_value".into(),
            if left_side || matched {
                col("left_value")
            } else {
                null()
            },
        ));
        c.push((
            "right_value".into(),
            if !left_side || matched {
                col("right_value")
            } else {
                null()
            },
        ));
        c.push((
            "difference".into(),
            if matched { diff.clone() } else { null() },
        ));
        c.push(("status".into(), text(status)));
        for (n, _) in &lm {
            c.push((
                n.clone(),
                if left_side || matched { col(n) } else { null() },
            ));
        }
        for (n, _) in &rm {
            c.push((
                n.clone(),
                if !left_side || matched {
                    col(n)
                } else {
                    null()
                },
            ));
        }
        let prov = if left_side {
            ["__dataset", "__file", "__sheet", "__row"]
        } else {
            ["__rdataset", "__rfile", "__rsheet", "__rrow"]
        };
        for (name, src) in ["__dataset", "__file", "__sheet", "__row"].iter().zip(prov) {
            c.push((name.to_string(), col(src)));
        }
        c.push((
            "__partner".into(),
            if matched { partner.clone() } else { null() },
        ));
        c
    };
    let mut parts = vec![Plan::Project {
        input: Box::new(
            Plan::Join {
                left: Box::new(lagg.clone()),
                right: Box::new(ragg.clone()),
                kind: JoinKind::Inner,
                on: keys_on.clone(),
            }
            .filter(Some(flag)),
        ),
        columns: columns("differs", true, true),
    }];
    if matches!(spec.unmatched, Unmatched::Both | Unmatched::Left) {
        parts.push(Plan::Project {
            input: Box::new(Plan::Join {
                left: Box::new(lagg.clone()),
                right: Box::new(ragg.clone()),
                kind: JoinKind::Anti,
                on: keys_on.clone(),
            }),
            columns: columns("left_only", true, false),
        });
    }
    if matches!(spec.unmatched, Unmatched::Both | Unmatched::Right) {
        parts.push(Plan::Project {
            input: Box::new(Plan::Join {
                left: Box::new(ragg),
                right: Box::new(lagg),
                kind: JoinKind::Anti,
                on: keys_on,
            }),
            columns: columns("right_only", false, false),
        });
    }
    let all = if parts.len() == 1 {
        parts.remove(0)
    } else {
        Plan::Union { inputs: parts }
    };
    let named = Plan::WithColumns {
        input: Box::new(all),
        columns: key_names
            .iter()
            .zip(&ks)
            .map(|(n, k)| (n.clone(), col(k)))
            .collect(),
    };
    let key = key_of(ks.iter().map(|k| Expr::ToText(Box::new(col(k)))).collect());
    // A key NULL on one side cannot be reconciled; it is a data-quality finding of that side.
    let named = named.filter(Some(Expr::IsNull(Box::new(key.clone()), true)));
    let with_partner = lead_projection(named, key, "", Some(col("__partner")), evidence);
    Some(with_partner)
}
