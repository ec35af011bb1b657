//! `match` — flags left rows that do (`exists`) or do not (`not_exists`) have a partner in the
//! right dataset, with conditions on each side and on the pair — or in any of several right
//! datasets (`any`), each with its own conditions.
//!
//! Example: a dibao recipient who owns a car above a price.
//! ```yaml
//! match:
//!   left: { dataset: dibao }
//!   right: { dataset: vehicles, where: "vehicle_type <> '电动三轮车' AND price >= :min_price" }
//!   on: "l.id_card = r.owner_id"
//!   condition: "r.registered_on <= l.enrolled_on + 0"   # optional, on the pair
//!   mode: exists
//!   min_partners: 1
//! ```
//! With alternatives ("two or more homes, or a car above 50,000"):
//! ```yaml
//! match:
//!   left: { dataset: dibao }
//!   any:
//!     - { label: 两套以上住房 / two homes, right: { dataset: property }, on: "l.id_card = r.owner_id", min_partners: 2 }
//!     - { label: 高价车辆 / a car, right: { dataset: vehicles, where: "price > 50000" }, on: "l.id_card = r.owner_id" }
//!   mode: exists
//! ```
//! Output: one lead per left key (the left side of `on`), or per value of `key:` (over `l.`
//! and `r.`; `l.` only for `not_exists`); for `exists`, one row per (left row, partner) pair
//! with the partner's file:row; for `not_exists`, one row per left row. With `any`, evidence
//! may read the `r.` columns of every alternative (NULL where the partner's dataset has no
//! such column) and `alternative` (the label, or the dataset, of the alternative that holds).
//! Limits: `on` is a conjunction of equalities, each between an `l.` and an `r.` expression;
//! NULL keys (invalid IDs) never match, and `not_exists` skips left rows whose key is NULL:
//! they cannot be checked and are reported as data-quality findings. A column that two
//! alternatives' datasets both have must have one type.

use super::super::compile::{Ctx, Schema, equi_keys, key_of, lead_projection, partner_of_right};
use super::super::expr::{AggFunc, BinOp, Expr, Lit, Scope};
use super::super::{JoinKind, Plan};
use crate::job::catalog::ValueType;
use crate::job::rule::{EvidenceSpec, MatchAlternative, MatchMode, MatchSpec};

/// A right side, compiled: its plan and columns, the pair's keys and condition.
struct Alternative {
    label: String,
    right: Plan,
    rcols: Schema,
    on: Vec<(Expr, Expr)>,
    condition: Option<Expr>,
    min_partners: u32,
}

/// The spec's right sides: its alternatives, or the one `right` it names.
fn alternatives(ctx: &mut Ctx, spec: &MatchSpec) -> Option<Vec<MatchAlternative>> {
    let single = spec.right.is_some() || spec.on.is_some();
    let at = |ctx: &mut Ctx, message: &str| {
        ctx.diags.push(crate::job::yaml::at(
            ctx.path,
            &spec.left.dataset,
            message.to_string(),
        ));
    };
    match (single, spec.any.is_empty()) {
        (true, true) => match (&spec.right, &spec.on) {
            (Some(right), Some(on)) => Some(vec![MatchAlternative {
                label: None,
                right: right.clone(),
                on: on.clone(),
                condition: spec.condition.clone(),
                min_partners: spec.min_partners.clone(),
            }]),
            _ => {
                at(ctx, "`match` needs both `right` and `on`");
                None
            }
        },
        (false, false) => {
            if spec.condition.is_some() || spec.min_partners.is_some() {
                at(
                    ctx,
                    "with `any`, each alternative has its own `condition` and `min_partners`",
                );
                return None;
            }
            Some(spec.any.clone())
        }
        (true, false) => {
            at(
                ctx,
                "`match` has `right` and `on`, or alternatives under `any`, not both",
            );
            None
        }
        (false, true) => {
            at(
                ctx,
                "`match` needs `right` and `on`, or alternatives under `any`",
            );
            None
        }
    }
}

pub fn plan(ctx: &mut Ctx, spec: &MatchSpec, evidence: &[EvidenceSpec]) -> Option<Plan> {
    let specs = alternatives(ctx, spec)?;
    let (mut lp, lcols, lname) = ctx.sources(std::slice::from_ref(&spec.left))?;
    let left = lp.remove(0).0;
    let mut alts = Vec::new();
    // Every alternative's right columns, for the evidence (one type per name).
    let mut all_rcols: Schema = Vec::new();
    let mut ok = true;
    for a in &specs {
        let Some((mut rp, rcols, rname)) = ctx.sources(std::slice::from_ref(&a.right)) else {
            ok = false;
            continue;
        };
        for (c, t) in &rcols {
            match all_rcols.iter().find(|(n, _)| n == c) {
                Some((_, t0)) if t0 != t && !c.starts_with("__") => {
                    ctx.diags.push(crate::job::yaml::at(
                        ctx.path,
                        &a.right.dataset,
                        format!(
                            "column `{c}` is a {t} in `{rname}` but a {t0} in another alternative"
                        ),
                    ));
                    ok = false;
                }
                Some(_) => {}
                None => all_rcols.push((c.clone(), *t)),
            }
        }
        let pair = Scope {
            columns: Vec::new(),
            left: Some(&lcols),
            right: Some(&rcols),
            left_name: &lname,
            right_name: &rname,
            params: ctx.params.clone(),
            allow_aggregates: false,
        };
        let on = equi_keys(ctx, &a.on, &pair);
        let condition = match &a.condition {
            Some(c) => ctx.condition(c, &pair).map(Some),
            None => Some(None),
        };
        if let (MatchMode::NotExists, Some(m)) = (spec.mode, &a.min_partners) {
            ctx.diags.push(crate::job::yaml::at(
                ctx.path,
                m,
                "`min_partners` applies to `mode: exists` only",
            ));
            ok = false;
        }
        let (Some(on), Some(condition)) = (on, condition) else {
            ok = false;
            continue;
        };
        alts.push(Alternative {
            label: a.label.clone().unwrap_or(rname.clone()),
            right: rp.remove(0).0,
            rcols,
            on,
            condition,
            min_partners: a.min_partners.as_ref().map(|m| m.value).unwrap_or(1),
        });
    }
    if !ok {
        return None;
    }
    let several = specs.len() > 1;
    // not_exists leads have no partner: evidence may only read the left side.
    let no_right: Schema = Vec::new();
    let (rcols_in_scope, extra): (&Schema, Schema) = match spec.mode {
        MatchMode::Exists if several => (&all_rcols, vec![("alternative".into(), ValueType::Text)]),
        MatchMode::Exists => (&all_rcols, Vec::new()),
        MatchMode::NotExists => (&no_right, Vec::new()),
    };
    let rname = if several {
        "the alternatives".to_string()
    } else {
        spec.any
            .first()
            .map(|a| a.right.dataset.value.clone())
            .or_else(|| spec.right.as_ref().map(|r| r.dataset.value.clone()))
            .unwrap_or_default()
    };
    let ev_scope = Scope {
        columns: extra,
        left: Some(&lcols),
        right: Some(rcols_in_scope),
        left_name: &lname,
        right_name: &rname,
        params: ctx.params.clone(),
        allow_aggregates: false,
    };
    let evidence = ctx.evidence(evidence, &ev_scope);
    let custom_key = match &spec.key {
        Some(k) if !k.is_empty() => Some(ctx.key(k, &ev_scope)),
        _ => None,
    };
    let evidence = evidence?;
    let custom_key = match custom_key {
        Some(k) => Some(k?),
        None => None,
    };
    let key_for = |a: &Alternative| {
        custom_key.clone().unwrap_or_else(|| {
            key_of(
                a.on.iter()
                    .map(|(l, _)| Expr::ToText(Box::new(l.clone())))
                    .collect(),
            )
        })
    };
    let prefixed = |p: &Plan, prefix: &str| Plan::Prefix {
        input: Box::new(p.clone()),
        prefix: prefix.into(),
    };
    let rid = || Expr::Col("l.__rid".into());
    let plan = match spec.mode {
        MatchMode::Exists => {
            let parts: Vec<Plan> = alts
                .iter()
                .map(|a| {
                    let mut pairs = Plan::Join {
                        left: Box::new(prefixed(&left, "l.")),
                        right: Box::new(prefixed(&a.right, "r.")),
                        kind: JoinKind::Inner,
                        on: a.on.clone(),
                    }
                    .filter(a.condition.clone());
                    if a.min_partners > 1 {
                        let counts = Plan::Aggregate {
                            input: Box::new(pairs.clone()),
                            keys: vec![("l.__rid".into(), rid())],
                            measures: vec![("__partners".into(), Expr::Agg(AggFunc::Count, None))],
                        }
                        .filter(Some(Expr::Bin(
                            BinOp::GtEq,
                            Box::new(Expr::Col("__partners".into())),
                            Box::new(Expr::Lit(Lit::Int(i64::from(a.min_partners)))),
                        )));
                        pairs = Plan::Join {
                            left: Box::new(pairs),
                            right: Box::new(counts),
                            kind: JoinKind::Semi,
                            on: vec![(rid(), rid())],
                        };
                    }
                    if several {
                        // Which alternative holds, and NULL for the other alternatives' columns.
                        let mut columns = vec![(
                            "alternative".to_string(),
                            Expr::Lit(Lit::Text(a.label.clone())),
                        )];
                        for (c, _) in &all_rcols {
                            if !a.rcols.iter().any(|(n, _)| n == c) {
                                columns.push((format!("r.{c}"), Expr::Lit(Lit::Null)));
                            }
                        }
                        pairs = Plan::WithColumns {
                            input: Box::new(pairs),
                            columns,
                        };
                    }
                    lead_projection(
                        pairs,
                        key_for(a),
                        "l.",
                        Some(partner_of_right()),
                        evidence.clone(),
                    )
                })
                .collect();
            union(parts)
        }
        MatchMode::NotExists => {
            // Left rows with a partner in no alternative: each alternative's matches removed
            // in turn.
            let mut unmatched = prefixed(&left, "l.");
            for a in &alts {
                unmatched = match &a.condition {
                    None => Plan::Join {
                        left: Box::new(unmatched),
                        right: Box::new(prefixed(&a.right, "r.")),
                        kind: JoinKind::Anti,
                        on: a.on.clone(),
                    },
                    Some(c) => {
                        let pairs = Plan::Join {
                            left: Box::new(prefixed(&left, "l.")),
                            right: Box::new(prefixed(&a.right, "r.")),
                            kind: JoinKind::Inner,
                            on: a.on.clone(),
                        }
                        .filter(Some(c.clone()));
                        let matched = Plan::Project {
                            input: Box::new(pairs),
                            columns: vec![("l.__rid".into(), rid())],
                        };
                        Plan::Join {
                            left: Box::new(unmatched),
                            right: Box::new(matched),
                            kind: JoinKind::Anti,
                            on: vec![(rid(), rid())],
                        }
                    }
                };
            }
            let key = key_for(&alts[0]);
            let checkable = unmatched.filter(Some(Expr::IsNull(Box::new(key.clone()), true)));
            lead_projection(checkable, key, "l.", None, evidence)
        }
    };
    Some(plan)
}

fn union(mut parts: Vec<Plan>) -> Plan {
    if parts.len() == 1 {
        parts.remove(0)
    } else {
        Plan::Union { inputs: parts }
    }
}
